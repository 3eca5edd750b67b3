// Package natsaccess makes access one shared truth for every parley node
// on a NATS JetStream cluster (issue 15, "Access"): keys added and
// removed, bans, mutes, kicks, invites and private-room access. An action
// on one node takes effect on every node within moments, including ending
// the affected sessions, because every node applies it through the same
// paths a local change takes. It knows nothing of SSH, terminals or
// SQLite: it implements package access's and room's ports and
// moderation's Cluster port, and acts on a node through Node.
//
// # Buckets, keys, writers and watchers
//
// Every bucket key is keyOf(name): the hex SHA-256 of the fingerprint,
// identity or room name, which any name can be turned into; each value
// carries the name itself, and a value whose name does not hash to its key
// is refused. Every value read is made inert again (safetext) or parsed
// strictly: whoever may write the buckets is trusted with access, but not
// with the terminals.
//
//   - PARLEY_BANS: fingerprint -> access.Ban (JSON). Written by
//     access.Control (Ban, Unban: a delete) through AccessStore, on the
//     node where the admin acted. Every node watches it: the ban is cached
//     for the login path (access.Control.Observe) and the key's sessions
//     end with the same reason as on the node that banned.
//   - PARLEY_INVITES: hex hash of the code -> uses left, expiry, who made
//     it. Written by access.Control (CreateInvite, Redeem, and the refund of
//     a failed join) through AccessStore; a use is taken with a
//     compare-and-set on the entry's revision, so the last use goes to one
//     node only. Every node watches it to refresh InvitesOpen (whether an
//     unknown key may authenticate to run join CODE).
//   - PARLEY_ROOMS: room name -> room.RoomAccess (private, invited,
//     creator, removed). Written by the hub (RoomStore.SetRoomAccess,
//     through RoomStore) before the change applies, as on one node. Every
//     node watches it and calls room.Hub.AccessChanged: a room made private
//     elsewhere takes out whoever it no longer admits, and a room removed
//     elsewhere is removed where nobody is in it. A revision older than
//     one this node stored or applied is not applied. A room whose access
//     only the local store knows (stored before the node joined the
//     cluster) is published when first read, unless another node published
//     one first.
//   - PARLEY_MEMBERS: identity -> the rooms it has joined (restored when it
//     connects to any node; /leave forgets one). Written by the hub's
//     membership writes (RoomStore.SetMembership, DropMemberships for a
//     removed room), which are queued (members.go: memberSync) and
//     published by one goroutine, each as a compare-and-set on the entry's
//     revision that applies the change to the value read: two nodes
//     changing one person's rooms at once lose nothing. Read at connect
//     (RoomStore.Memberships), with the changes not yet published on top;
//     the hub opens a room made on another node before restoring someone
//     into it. The local store keeps a copy of every change. A node that
//     joins for the first time (no authorized_keys.memberships-published
//     file next to its authorized_keys) adds every membership of its
//     local store to the cluster's, once (MembershipLister). Every node
//     watches it and calls room.Hub.MembershipsChanged with the rooms added
//     and taken out since the value it knew: that person's sessions there
//     enter or drop them, as all of a person's screens do on one node. A
//     revision not newer than one this node stored or applied, and a room
//     with a change of this node's own waiting, are not applied.
//   - PARLEY_MUTES: identity -> mute (until, by; or off, for an unmute).
//     Written by moderation (the Cluster port) after the hub muted here;
//     every node watches it and mutes (telling those connected) unless its
//     hub holds the same mute already. Mutes are stored, so unlike on a
//     single node they outlive a restart.
//   - Subject parley.access.kick: a kick is a moment, not a state: a plain
//     NATS message that the nodes connected act on (hub.Kick); the node
//     that kicked has already.
//   - PARLEY_KEYS: fingerprint -> one authorized_keys line (options, key,
//     comment). See below.
//   - The web page's state (web.go), so that a browser sent to any node
//     behind one address finds it: PARLEY_WEB_SESSIONS: hex of the SHA-256
//     of a session cookie (never the cookie) -> the session (handle,
//     identity, times, browser summary), forgotten Options.WebSessionTTL
//     after its last write; PARLEY_WEB_LINKS: the same for the token of a
//     sign-in link not used yet -> its identity and expiry, taken with a
//     compare-and-delete (once, on one node); PARLEY_PASSKEYS: keyOf(credential id) -> its
//     owner and WebAuthn record (public key and sign count; a sign-in's
//     update is a compare-and-set); PARLEY_ACCOUNTS: keyOf(id) ->
//     a browser-only account (id, name, made when). Written by the web
//     front door and the keys commands of the node where they happen. The
//     accounts are watched into a copy in memory (read at every sign-in
//     and name check; server's account poll ends the sessions of one
//     removed elsewhere); sessions and passkeys are read from the bucket
//     when needed. A session deleted (signed out, revoked, its identity
//     removed) is announced on the subject parley.web.signout with its
//     handle, and every node closes that session's open pages.
//
// # authorized_keys and parley keys
//
// The file stays what every node enforces: each node mirrors the shared
// key set into its own authorized_keys under keys.Lock (the lock parley
// keys, keys over SSH, join and seeding take) and reloads it, so that login,
// removal ending sessions, expiry-time and admin rights work as on one
// node. Lines that are not keys (comments, lines parley refuses) are left
// as they are.
//
// Every change to the file made on a node is published, whoever made it:
// keys add and remove over SSH, join CODE, parley keys, PARLEY_ADMIN_KEYS
// and first-start seeding, and a hand edit: the node looks at the
// snapshot it has loaded every 100 ms (KeysPoll), and what differs from the
// lines it last agreed with the bucket (kept in authorized_keys.shared) is
// put or deleted. So removing a line by hand on one node removes the key
// from every node; a file emptied by mistake empties the cluster's key set.
//
// At start, the file and the bucket are merged three ways with
// authorized_keys.shared: a key whose line differs from the last agreed one
// was changed here while the node was down (or before it ever joined) and
// is published; every other key takes the bucket's line, or is removed
// when the bucket no longer has it. So a key removed elsewhere while a
// node was down does not come back with that node; a node joining for the
// first time publishes the keys in its file (start it with an empty file,
// --no-seed-keys, to take the cluster's only).
//
// # Watch gaps and failures
//
// Every watcher is a JetStream ordered consumer: it first delivers every
// value there now, then each change in order; after a gap (a missed
// message or heartbeat) it is recreated from the last revision it
// delivered, so no change is skipped. That recovery takes about 20 s after
// a reconnection, so when the connection to NATS has been made again, each
// watcher is replaced at once (within 250 ms) by a new one, which delivers
// every key's current value again, deletions included: every apply is
// idempotent, so what changed meanwhile is applied and the rest changes
// nothing. A key line delivered again never undoes a change of the file
// that this node has not published yet (it is published instead). While NATS is
// unreachable, changes made on a node are refused with the error (a ban,
// an invite, a room's access: nothing is applied that is not shared), but
// a key change to the file is kept and published when NATS is back, and a
// kick or a mute says it reached this node only. A /join or /leave works
// while NATS is away (it changes only the person's own convenience; access
// is checked again on every restore): it waits in memory and is published
// within about a second of NATS being back, and the node's reads see it
// meanwhile; a connect then restores the rooms this node's store has (with
// the waiting changes). A node stopped before NATS is back loses the
// waiting changes from the cluster (its local copy keeps them).
//
// # Concurrency
//
// A Shared is safe for concurrent use. mu guards roomRev and the list of
// watchers to stop. memberSync.mu guards the membership changes waiting
// to be published; its run goroutine alone publishes them. Each bucket's watcher applies its changes on its own
// goroutine, in order; the key set's mirror and its publisher (the poll
// goroutine) are serialised by keySync.mu and by keys.Lock.
package natsaccess
