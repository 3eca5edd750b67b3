package natsaccess

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode"

	"parley/internal/testkit"
	"parley/room"
	"parley/safetext"
)

// inert reports whether s holds no control character (no escape sequence
// can reach a terminal or a log from it).
func inert(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) })
}

// The values read from the buckets come from whoever may write them: each
// decoder refuses what does not belong under its key and never lets a
// control character through; none panics.
func FuzzDecoders(f *testing.F) {
	u := testkit.NewUser(f, "seed")
	line := u.Line(`admin,name="seed"`)
	f.Add(keyOf(u.FP), []byte(line))
	f.Add(keyOf(u.FP), []byte(line+"\n"+line))
	f.Add(keyOf("SHA256:x"), []byte(`{"Fingerprint":"SHA256:x","Name":"b\u001b[2Job","Reason":"\u202espam"}`))
	f.Add(keyOf("plan"), []byte(`{"name":"plan","access":{"Private":true,"Invited":["a"]}}`))
	f.Add(keyOf("Plan"), []byte(`{"name":"Plan","access":{}}`))
	f.Add("x", []byte(`{"name":"x"`))
	f.Add(keyOf("SHA256:m"), []byte(`{"id":"SHA256:m","rooms":["dev","ops","dev"]}`))
	f.Add(keyOf("SHA256:m"), []byte(`{"id":"SHA256:m","rooms":["Dev","#ops","a\u001b[2Jb"]}`))
	f.Add(keyOf("SHA256:n"), []byte(`{"id":"SHA256:m","rooms":[]}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		if fp, ln, err := decodeKeyLine(key, value); err == nil {
			if keyOf(fp) != key || strings.ContainsAny(ln, "\r\n") {
				t.Fatalf("key line accepted under the wrong key or with a line break: %q %q", fp, ln)
			}
		}
		if b, err := decodeBan(key, value); err == nil {
			if !inert(b.Name) || !inert(b.Reason) || !inert(b.ByName) || !inert(b.By) {
				t.Fatalf("ban text not inert: %+v", b)
			}
		}
		if v, err := decodeRoom(key, value); err == nil {
			if keyOf(v.Name) != key || v.Name != room.RoomKey(v.Name) {
				t.Fatalf("room access accepted under the wrong key: %q", v.Name)
			}
		}
		if v, err := decodeMembers(key, value); err == nil {
			if keyOf(v.ID) != key || len(v.Rooms) > maxMemberRooms || !slices.IsSorted(v.Rooms) || len(slices.Compact(slices.Clone(v.Rooms))) != len(v.Rooms) {
				t.Fatalf("memberships accepted under the wrong key, too many or unsorted: %q %q", v.ID, v.Rooms)
			}
			for _, r := range v.Rooms {
				if r != room.RoomKey(r) || !inert(r) || safetext.ValidateName(r) != nil {
					t.Fatalf("memberships accepted with a bad room name: %q", r)
				}
			}
		}
		var m mute
		_ = json.Unmarshal(value, &m)
	})
}
