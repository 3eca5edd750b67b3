// Package room is the chat domain of parley: a Hub of rooms, the people in
// them, their sessions, the messages they exchange, the commands they type and
// the recent history a newcomer is shown.
//
// It knows nothing of SSH, terminals or Bubble Tea: a transport authenticates a
// person, calls Hub.Connect with their Identity, and gets a *Session whose
// messages it takes with Receive (or from the Events channel) and renders,
// and whose Send method it feeds with what the person types. Persistence
// plugs in through the Log interface (ordering and commit of rooms'
// messages, by default over History), History, and RoomStore for who may
// enter each room and who is in it (access.go: every reader of a room's
// history checks that access itself).
//
// Several hubs (nodes) sharing a Log also share who is online through a
// Roster (roster.go): member lists and /who merge the people on the other
// nodes, names are claimed across nodes, and a PrivateHistory that is a
// PrivateFeed delivers private messages on every node. Without one a hub
// is alone, as before; room knows nothing of NATS either way.
//
// Commands are declared with a command.Spec (package command, a leaf): the
// chat's own in commands.go, and those the chat and `ssh host COMMAND` both
// have (who, rooms: shared.go) with one surface-free handler that Shared
// adapts to the chat line and Hub.SharedCommands hands to other surfaces.
//
// # Concurrency
//
// All membership state (identities, names, rooms, sessions) is owned by
// Hub.mu, a single mutex that is never held while waiting on anything: fan-out
// appends to each session's bounded queue without waiting, and a session whose
// queue is full is disconnected with a reason instead of slowing anyone down.
// Each queue has its own small lock, taken after Hub.mu, so that a session's
// reader (Session.Receive) never takes Hub.mu. Hub.mu is never held while
// calling the Log; a Log's delivery takes only the room's incoming lock
// (room.inMu), which is held for nothing else.
//
// Hub.mu is never held while calling a Roster either: one goroutine
// (rosterLoop) publishes what changed and releases names after taking a
// copy under Hub.mu, and names are claimed with the lock released (Connect,
// /nick) and checked again after; the Roster's news of other nodes
// (setRemote) takes Hub.mu, so a Roster calls it holding none of its own
// locks.
//
// Ordering is owned by one sequencer goroutine per room (room.run) and the
// room's Log (log.go). Everything that is shown in a room (messages, emotes,
// joins, leaves, renames, topics) goes through it: the sequencer appends a
// batch to the Log, which assigns the room's sequence numbers and commits
// it, and the sequencer fans out under Hub.mu only what the Log delivers
// through Subscribe, in the Log's order, with each session registered at its
// place in that order. So every member sees a room's events in the same
// order, and nothing is shown that was not stored. A sender's own message
// comes back through Subscribe like everyone else's (its sequence number is
// known from Append, for placing the sessions queued after it); a message
// committed by another process sharing the Log arrives the same way, and a
// Record whose ID was already shown (a retried Append committed twice) is
// not shown again. The default Log, NewHistoryLog, is the in-process
// sequencer over History and delivers from inside Append: one goroutine, no
// extra hop. Fan-out never waits on a session, so a slow session never holds
// up the others (see Concurrency above).
package room
