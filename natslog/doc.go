// Package natslog is a room.Log (and a read-only room.History) over NATS
// JetStream, so that several parley processes (nodes) share every room:
// what one node appends reaches the sessions of every node, in one order.
// It also holds who is online and the names in use (Roster, a
// room.Roster over KV buckets) and private messages (DMs).
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
// # The local index
//
// The streams are the source of truth. Each node keeps its SQLite as an
// index of them (Index, over the IndexStore port that package store
// implements): one goroutine per room reads the room's stream from the
// last sequence the database applied and writes what it read in one
// transaction with the new applied sequence, so a node that was down
// catches up from where it stopped. Rooms made on other nodes are found by
// JetStream's stream-created advisories and a periodic listing. A stream
// made again (another creation time) or imported history is indexed again
// from its start. Index.History reads scrollback and /jump from the index
// when it has applied them, and from the stream otherwise.
//
// # Importing a single node's history
//
// Import publishes a room's history from a single node's database into
// its stream, in order, in atomic batches each acknowledged before the
// next, with a Nats-Msg-Id made of the source database's import node and
// the message's old number. It reads the IDs in the stream first, so a second run stores
// nothing twice whatever the duplicate window; a stream holding other
// messages is refused unless forced.
//
// # Presence and names
//
// Roster (presence.go) is room's Roster port: who is online on each node,
// in which rooms, away, admin or bot, with how many sessions, and which
// names are in use. Four KV buckets hold it:
//
//   - PARLEY_NODES: one key per running process (a random NUID, so a
//     restarted node is a new one), put every Heartbeat (2 s). The
//     bucket's TTL (RosterOptions.TTL, 6 s) lets the server forget a
//     silent node's heartbeat, but a watch does not see an expiry, so
//     liveness is decided by each node from when it last heard a
//     heartbeat, on its own clock: no clock is compared across machines.
//   - PARLEY_PRESENCE: key <node>.<identity token>, the identity's
//     room.Presence on that node, written when it changes (the hub's
//     roster goroutine coalesces bursts) and deleted when the identity's
//     last session there ends. Nothing is rewritten on a heartbeat, so the
//     cost is one write per change, not one per person per heartbeat.
//   - PARLEY_NAMES: key <folded name token>, {identity, node}. A claim is
//     Create (create-if-absent); a name whose claim is the same identity's,
//     or whose holder is gone (its node silent, or its node alive but not
//     showing the identity and the claim older than the TTL), is taken over
//     with Update at the revision read, so two nodes racing for one name
//     cannot both win. A claim is deleted (revision-checked) when its
//     holder leaves its last node.
//     Each presence value carries when its name was chosen (Renamed): a
//     /nick on one node renames the person's sessions on the others, the
//     newest name winning. That compares the nodes' clocks, so two renames
//     closer together than the clocks' skew may settle on the older one.
//   - PARLEY_KNOWN: key <folded name token>, {identity, name}: who last
//     claimed each name, kept after they leave, so that a private message
//     finds someone offline who was only ever on another node (the
//     Roster is a room.NameIndex).
//
// Every node watches PARLEY_NODES and PARLEY_PRESENCE and gives the hub
// the presence of the live nodes other than itself (one goroutine calls
// the hub, the newest state each time, so a stale list never follows a
// newer one). A node whose heartbeat has not been heard for the TTL is
// dropped at the next heartbeat tick: its people leave every other
// node's member lists within TTL + one heartbeat (8 s by default; 1.2 s
// measured at the tests' 200 ms / 1 s, TestRosterDeadNodeDrops, and 1.4 s
// over SSH at 250 ms / 1.5 s, e2e TestTwoNodesPresenceOnScreens), and the
// first live node to notice
// deletes its keys. A node that closes (Roster.Close, at shutdown) deletes
// its heartbeat and its people at once: the others drop them immediately.
// A node whose heartbeat fails (NATS down) publishes all its people again
// when it works, since the others may have deleted them meanwhile; and a
// node that sees one of its own keys deleted by another (which thought it
// silent) writes it again. The heartbeat has a goroutine of its own, so
// that writing a crowd's arrival never delays it. After NATS reconnects
// (a restarted server loses the watches' consumers) a node watches both
// buckets again at its next heartbeat tick and replaces what it knew once
// every current value has arrived: lists are whole again within about a
// heartbeat of NATS coming back (about 0.1 s at the tests' 200 ms,
// TestRosterSurvivesNATSRestart; about 20 s before this was done).
//
// The other design, one key per identity with a per-key TTL rewritten on
// every heartbeat, was rejected: it costs a write per person per
// heartbeat (a thousand people, every 2 s, on every node), where this one
// costs one write per node per heartbeat.
//
// # Private messages
//
// DMs (dm.go) is a room.PrivateHistory, room.PrivateFeed and
// room.PrivateMarks: one stream, PARLEY_DM, each private message on
// parley.dm.<recipient token>.<sender token>, its id the stream sequence.
// A message is shown only once JetStream has acknowledged it: every hub
// follows the stream (an ordered consumer from "new") and shows each one
// to the sessions on that node of its two identities, and nobody else's.
// A node reading one checks that the two identities in it are its
// subject's, so that what a subject filter selects (PrivateBefore, which
// reads one identity's messages with the two filters parley.dm.<id>.* and
// parley.dm.*.<id>) and what a hub delivers never differ. How far each
// identity has been shown them is the PARLEY_DM_MARKS bucket (raised only,
// revision-checked), so a message waiting for someone offline is shown at
// their next connect on any node, and once.
//
// # Concurrency
//
// A Log, a Roster and a DMs are safe for concurrent use. A Roster's mu
// guards its maps and is never held while calling NATS or the hub; its
// four goroutines are run (writes, pruning), beatLoop (the heartbeat),
// watchLoop (the two watches) and notifier (the only caller of the hub's
// function).
// A Log is safe for concurrent use. mu guards the set of streams known to
// exist. Each subscription's deliveries run on the consumer's goroutine,
// one at a time, under the subscription's own lock, which stop takes to
// end it.
package natslog
