// Package natslog is a room.Log (and a read-only room.History) over NATS
// JetStream, so that several parley processes (nodes) share every room:
// what one node appends reaches the sessions of every node, in one order.
// It knows rooms only through package room's ports, and nothing of SSH,
// terminals or SQLite.
//
// # One stream per room
//
// Each room is a JetStream stream of its own, named PARLEY_ROOM_<token>
// and bound to the one subject parley.room.<token>, where token encodes
// the room's folded name (room.RoomKey) into the characters that stream
// names and subjects allow (Token). A room's sequence number is its
// stream's sequence: JetStream assigns it, every node reads the same one,
// and it is contiguous (a stream numbers what it accepts 1, 2, 3, ...; a
// duplicate consumes no number). So nothing needs a counter of its own,
// no optimistic-concurrency retry loop between nodes, and a subscription
// from "after room sequence N" is a consumer from stream sequence N+1.
//
// The other design, one stream for all rooms with a per-room counter
// carried in each message and appended with
// Nats-Expected-Last-Subject-Sequence, was rejected: the loser of each race
// must re-read and retry, a batch cannot carry a chain of expected
// sequences atomically, and starting a subscription at room sequence N
// would need a search for the stream sequence that holds it. The cost of
// the choice is one stream (one Raft group when replicated) per room; the
// JetStream account's max_streams bounds how many rooms a cluster can hold.
//
// # Guarantees
//
//   - Acknowledged means durable: Append returns nil only after
//     JetStream's acknowledgement (stored on the stream's replicas).
//   - Retries are deduplicated: every message carries Nats-Msg-Id derived
//     from its room.RecordID, so an Append retried within the stream's
//     duplicate window (Options.Duplicates) is not stored twice; beyond
//     it, the hub's RecordID check still shows it once.
//   - Batches are all or none: an Append of several records is one
//     JetStream atomic batch (Nats-Batch-Id, stream AllowAtomicPublish,
//     nats-server 2.12 or later), committed whole or not at all. One
//     exception: a retried batch that JetStream refuses because part of it
//     was already committed is published again one message at a time, each
//     deduplicated, so the part that was missing is committed in order
//     (and a failure midway leaves a prefix committed, which the error
//     reports).
//   - Subscribe delivers in stream order, each sequence once, through an
//     ordered consumer from after+1 that recreates itself after a
//     disconnection or a server restart, where it left off.
//   - NATS unreachable, or JetStream without quorum: Append fails (at once
//     when the connection is down, it does not wait for a reconnection)
//     with an error that wraps room.ErrUnavailable, so the hub keeps the
//     message, tells its sender "not sent, retrying" and appends it again,
//     with the same Nats-Msg-Id, until it is stored (unavailable.go). The
//     connection keeps reconnecting by itself.
//   - A subscription whose server is lost is made again from where it
//     left off after two missed heartbeats (Options.Heartbeat, 2 s).
//   - Health (health.go) is the NATS part of /readyz: connected, and
//     JetStream's meta leader answering (a quorum), cached 2 s.
//
// # Concurrency
//
// A Log is safe for concurrent use. mu guards the set of streams known to
// exist. Each subscription's deliveries run on the consumer's goroutine,
// one at a time, under the subscription's own lock, which stop takes to
// end it.
package natslog
