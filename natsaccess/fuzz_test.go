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
	f.Add(sessionKey([32]byte{1}), []byte(`{"hash":"`+sessionKey([32]byte{1})+`","handle":"h","identity":"SHA256:a","agent":"x\u001b[2Jy"}`))
	f.Add(sessionKey([32]byte{1}), []byte(`{"hash":"`+sessionKey([32]byte{2})+`","handle":"h","identity":"SHA256:a"}`))
	f.Add(keyOf("\x01\x02"), []byte(`{"id":"AQI=","identity":"web:A","record":"e30="}`))
	f.Add(keyOf("web:A"), []byte(`{"id":"web:A","name":"carol"}`))
	f.Add(keyOf("web:A"), []byte(`{"id":"web:A","name":"a\u202eb"}`))
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
		if r, err := decodeWebSession(key, value); err == nil {
			if sessionKey(r.Hash) != key || !plain(r.Identity, 128) || !plain(r.Handle, maxHandle) || !inert(r.Agent) || !inert(r.Addr) {
				t.Fatalf("web session accepted under the wrong key or with text not inert: %+v", r)
			}
		}
		if l, err := decodeWebLink(key, value); err == nil {
			if l.Hash != key || !plain(l.Identity, 128) {
				t.Fatalf("sign-in link accepted under the wrong key or with a bad identity: %+v", l)
			}
		}
		if k, err := decodePasskey(key, value); err == nil {
			if keyOf(string(k.ID)) != key || !inert(k.Identity) || k.Identity == "" {
				t.Fatalf("passkey accepted under the wrong key or with a bad identity: %q %q", k.ID, k.Identity)
			}
		}
		if a, err := decodeAccount(key, value); err == nil {
			if keyOf(a.ID) != key || !strings.HasPrefix(a.ID, accountPrefix) || !inert(a.ID) || safetext.ValidateName(a.Name) != nil {
				t.Fatalf("account accepted under the wrong key or with a bad id or name: %q %q", a.ID, a.Name)
			}
		}
		var m mute
		_ = json.Unmarshal(value, &m)
	})
}
