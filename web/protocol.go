package web

import (
	"time"

	"parley/room"
)

// The JSON messages of the WebSocket protocol (docs/web-protocol.md).
// Every frame is one JSON object with a "type".

// Frame types the server sends.
const (
	typeHello    = "hello"   // who the page is signed in as
	typeRooms    = "rooms"   // the rooms the person is in
	typeMembers  = "members" // who is in one room
	typeMember   = "member"  // one entry of a room's member list changed
	typeBacklog  = "backlog" // a room's recent messages, on entering it
	typeMessage  = "message" // one event, as the terminal screen gets it
	typeError    = "error"   // what the person sent was refused
	typeEnd      = "end"     // the session ended: reason, then the socket closes
	typeSend     = "send"    // page -> server: a line typed in the composer
	typeSwitch   = "switch"  // page -> server: show and post to another room
	typeOlder    = "older"   // page -> server: messages before a seq; server -> page: them
	maxFrameRead = 1 << 20   // bytes: a paste at the caps (safetext: 40,000 characters, 160 KB) escaped in JSON fits; SSH's say reads lines as long
)

// outFrame is a frame from the server. Only the fields of its type are set.
type outFrame struct {
	Type     string        `json:"type"`
	ID       string        `json:"id,omitempty"`
	Name     string        `json:"name,omitempty"`
	Admin    bool          `json:"admin,omitempty"`
	Room     string        `json:"room,omitempty"`
	Rooms    []roomJSON    `json:"rooms,omitempty"`
	Members  []memberJSON  `json:"members,omitempty"`
	Messages []messageJSON `json:"messages,omitempty"`
	Message  *messageJSON  `json:"message,omitempty"`
	Member   *memberJSON   `json:"member,omitempty"`
	Gone     bool          `json:"gone,omitempty"`
	Read     uint64        `json:"read,omitempty"`
	Current  bool          `json:"current,omitempty"`
	Text     string        `json:"text,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Before   uint64        `json:"before,omitempty"` // older: the seq asked before
	Start    bool          `json:"start,omitempty"`  // older: nothing is older (the room's start)
}

// inFrame is a frame from the page.
type inFrame struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Text string `json:"text"`
	// Before is the seq an "older" frame asks for messages before.
	Before uint64 `json:"before"`
}

type roomJSON struct {
	Name    string `json:"name"`
	Topic   string `json:"topic,omitempty"`
	Private bool   `json:"private,omitempty"`
	People  int    `json:"people"`
}

type memberJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Admin    bool   `json:"admin,omitempty"`
	Bot      bool   `json:"bot,omitempty"`
	Away     string `json:"away,omitempty"`
	Sessions int    `json:"sessions"`
}

// messageJSON is a room.Message. Text fields are plain text, already made
// inert by safetext: the page shows them with textContent, never as HTML.
type messageJSON struct {
	Kind   string    `json:"kind"`
	Room   string    `json:"room,omitempty"`
	Seq    uint64    `json:"seq,omitempty"`
	Time   time.Time `json:"time"`
	From   string    `json:"from,omitempty"`
	FromID string    `json:"fromId,omitempty"`
	To     string    `json:"to,omitempty"`
	ToID   string    `json:"toId,omitempty"`
	Text   string    `json:"text,omitempty"`
}

func toMessage(m *room.Message) messageJSON {
	return messageJSON{Kind: m.Kind.String(), Room: m.Room, Seq: m.Seq, Time: m.Time.UTC(),
		From: m.From, FromID: m.FromID, To: m.To, ToID: m.ToID, Text: m.Text}
}

func toMessages(ms []room.Message) []messageJSON {
	out := make([]messageJSON, 0, len(ms))
	for i := range ms {
		out = append(out, toMessage(&ms[i]))
	}
	return out
}

func toRooms(rs []room.RoomInfo) []roomJSON {
	out := make([]roomJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, roomJSON{Name: r.Name, Topic: r.Topic, Private: r.Private, People: r.People})
	}
	return out
}

func toMember(m room.MemberInfo) memberJSON {
	return memberJSON{ID: m.ID, Name: m.Name, Admin: m.Admin, Bot: m.Bot, Away: m.Away, Sessions: m.Sessions}
}

func toMembers(ms []room.MemberInfo) []memberJSON {
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMember(m))
	}
	return out
}
