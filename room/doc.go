// Package room is the chat domain of parley: a Hub of rooms, the people in
// them, their sessions, the messages they exchange, the commands they type and
// the recent history a newcomer is shown.
//
// It knows nothing of SSH, terminals or Bubble Tea: a transport authenticates a
// person, calls Hub.Connect with their Identity, and gets a *Session whose
// messages it takes with Receive (or from the Events channel) and renders,
// and whose Send method it feeds with what the person types. Persistence
// plugs in through the History interface, and through RoomStore for who may
// enter each room and who is in it (access.go: every reader of a room's
// history checks that access itself).
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
// reader (Session.Receive) never takes Hub.mu.
//
// Ordering is owned by one sequencer goroutine per room (room.run). Everything
// that is shown in a room (messages, emotes, joins, leaves, renames, topics)
// goes through it: it assigns the room's sequence numbers, commits a batch to
// History, and only then fans the batch out under Hub.mu. So every member sees
// a room's events in the same order, and nothing is shown that was not stored.
package room
