package room

import "time"

// Kind says what a Message is, so that a view can render each kind its own way.
type Kind uint8

// The kinds of message.
const (
	// KindChat is an ordinary message in a room.
	KindChat Kind = iota + 1
	// KindEmote is a "/me" action in a room.
	KindEmote
	// KindJoin says that someone entered a room. Text holds extra names when
	// several joins were coalesced.
	KindJoin
	// KindLeave says that someone left a room; Text may hold a reason.
	KindLeave
	// KindNick says that From is now known as Text.
	KindNick
	// KindTopic says that From set the room topic to Text.
	KindTopic
	// KindAnnounce is a server-wide announcement (for example a shutdown).
	KindAnnounce
	// KindPrivate is a direct message between From and To, seen only by them.
	KindPrivate
	// KindNotice is feedback for one session only: command output, errors, the
	// message of the day. It is never stored and never seen by anyone else.
	KindNotice
	// KindError is a notice that reports a failure to the one session.
	KindError
	// KindEnter tells one session that it is now in Room (its identity
	// joined it, possibly from another session): RoomBacklog(Room) holds the
	// messages before this point. Never stored.
	KindEnter
	// KindPresence tells a session that someone in Room went away or came
	// back: nothing to show, but the member list (Members) changed. Never
	// stored.
	KindPresence
)

// String names the kind, for logs and JSON.
func (k Kind) String() string {
	switch k {
	case KindChat:
		return "chat"
	case KindEmote:
		return "emote"
	case KindJoin:
		return "join"
	case KindLeave:
		return "leave"
	case KindNick:
		return "nick"
	case KindTopic:
		return "topic"
	case KindAnnounce:
		return "announce"
	case KindPrivate:
		return "private"
	case KindNotice:
		return "notice"
	case KindError:
		return "error"
	case KindEnter:
		return "enter"
	case KindPresence:
		return "presence"
	}
	return "unknown"
}

// Stored reports whether messages of this kind belong to a room's history.
func (k Kind) Stored() bool {
	switch k {
	case KindChat, KindEmote, KindJoin, KindLeave, KindNick, KindTopic:
		return true
	}
	return false
}

// Message is one event shown to people. It is plain data: rendering belongs to
// the view. Every text field has already been made inert by package safetext.
type Message struct {
	// Seq orders a room's messages: 1, 2, 3, ... per room, with no gaps among
	// stored messages. It is 0 for private messages and notices.
	Seq uint64
	// Time is when the server accepted the message.
	Time time.Time
	// Room is the room the message belongs to ("" for private messages and
	// notices that belong to no room).
	Room string
	// Kind says what the message is.
	Kind Kind
	// From is the sender's display name at the time of sending ("" for the server).
	From string
	// FromID is the sender's identity (key fingerprint), "" for the server.
	FromID string
	// To is the recipient's display name, for private messages.
	To string
	// ToID is the recipient's identity, for private messages.
	ToID string
	// Text is the body.
	Text string
}
