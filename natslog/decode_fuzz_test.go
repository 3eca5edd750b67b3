package natslog

import (
	"strings"
	"testing"
	"unicode/utf8"

	"parley/room"
	"parley/safetext"
)

// Presence values come from a bucket any node (or anything else with
// access to the NATS account) can write: decodePresence must never panic,
// must refuse a value filed under another identity's key, and what it
// returns must be inert text in bounds.
func FuzzDecodePresence(f *testing.F) {
	f.Add("id-alice", `{"i":"id-alice","n":"alice","r":["lobby","dev"],"a":"lunch","s":2,"si":"2026-01-02T03:04:05Z","la":"2026-01-02T03:04:05Z"}`)
	f.Add("id-alice", `{"i":"id-bob","n":"bob","s":1}`)
	f.Add("id-alice", `{"i":"id-alice","n":"\u001b[2Jalice","r":["../x","LOBBY"],"s":1}`)
	f.Add("id-alice", `{"i":"id-alice","s":0}`)
	f.Add("x", `not json`)
	f.Fuzz(func(t *testing.T, id, data string) {
		p, err := decodePresence("node", Token(id), []byte(data))
		if err != nil {
			return
		}
		if p.ID != id || p.Node != "node" || p.Sessions <= 0 {
			t.Fatalf("decoded %+v under the key of %q", p, id)
		}
		for _, s := range []string{p.Name, p.Away} {
			if safetext.Line(s, 1000) != s || !utf8.ValidString(s) {
				t.Fatalf("not inert: %q", s)
			}
		}
		for _, r := range p.Rooms {
			if room.RoomKey(r) != r || safetext.ValidateName(r) != nil {
				t.Fatalf("room %q kept", r)
			}
		}
	})
}

// Private messages come from a stream anything with access to the account
// could publish on: decodeDM must never panic, must keep only a message
// whose two identities are its subject's, and must make its text inert.
func FuzzDecodeDM(f *testing.F) {
	f.Add("id-bob", "id-alice", `{"t":"2026-01-02T03:04:05Z","f":"alice","fi":"id-alice","o":"bob","oi":"id-bob","x":"hi"}`)
	f.Add("id-bob", "id-alice", `{"f":"alice","fi":"id-mallory","o":"bob","oi":"id-bob","x":"spoof"}`)
	f.Add("id-bob", "id-alice", `{"fi":"id-alice","oi":"id-bob","x":"\u001b]52;c;x\u0007"}`)
	f.Add("a", "b", `[]`)
	f.Fuzz(func(t *testing.T, to, from, data string) {
		m, err := decodeDM(dmSubject(to, from), 7, []byte(data))
		if err != nil {
			return
		}
		if m.Kind != room.KindPrivate || m.Seq != 7 || dmSubject(m.ToID, m.FromID) != dmSubject(to, from) {
			t.Fatalf("decoded %+v from the subject of %q -> %q", m, from, to)
		}
		if clean, _ := safetext.Message(m.Text); clean != m.Text || strings.ContainsRune(m.Text, 0x1b) {
			t.Fatalf("text not inert: %q", m.Text)
		}
	})
}
