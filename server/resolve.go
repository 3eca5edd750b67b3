package server

import (
	"fmt"
	"strings"

	"parley/keys"
	"parley/room"
	"parley/safetext"
)

// Finding the person an admin names, the same for every admin command over
// SSH and in the chat: by the display name people see (now, or last, for
// someone who has left), by the key's name in authorized_keys, or by the
// key's fingerprint (whole, or its start: "SHA256:AbCd1234"). A word that
// could mean two people is refused with the list of them; the answer says
// which person was meant (name and short fingerprint).

// fpPrefixMin is how many characters after "SHA256:" a fingerprint given
// by its start needs (the short form shown is 8).
const fpPrefixMin = 8

// fpLen is the length of a whole SHA256 fingerprint with its prefix.
const fpLen = len("SHA256:") + 43

// shortFP is the start of a fingerprint shown to people ("SHA256:AbCd1234").
func shortFP(fp string) string {
	if len(fp) <= len("SHA256:")+fpPrefixMin {
		return fp
	}
	return fp[:len("SHA256:")+fpPrefixMin]
}

// target is who an admin action is aimed at.
type target struct {
	id   string // the key's fingerprint
	name string // the display name people see (now or last); "" if unknown
	key  string // the key's name in authorized_keys; "" if none or not listed
}

// label is the name to call the target by.
func (t target) label() string {
	if t.name != "" {
		return t.name
	}
	return t.key
}

// String says who the target is, for people: "bobby (key bob,
// SHA256:AbCd1234)", "bob (SHA256:AbCd1234)", or the whole fingerprint of
// a key nobody knows by a name.
func (t target) String() string {
	label := t.label()
	switch {
	case label == "":
		return t.id
	case t.key != "" && safetext.Fold(t.key) != safetext.Fold(label):
		return fmt.Sprintf("%s (key %s, %s)", label, t.key, shortFP(t.id))
	}
	return fmt.Sprintf("%s (%s)", label, shortFP(t.id))
}

// long is String with the whole fingerprint, for lists people copy from.
func (t target) long() string {
	if t.label() == "" {
		return t.id
	}
	return fmt.Sprintf("%s (%s)", t.label(), t.id)
}

// describe fills in what is known of the key fp.
func (s *Server) describe(snap *keys.Snapshot, fp string) target {
	t := target{id: fp}
	if e, ok := snap.ByFingerprint(fp); ok {
		t.key = e.Name
	}
	if n, ok := s.hub.KnownName(fp); ok {
		t.name = n
	}
	if t.label() == "" {
		if b, ok := s.access.Banned(fp); ok {
			t.name = b.Name
		}
	}
	return t
}

// lookup returns everyone who may be meant by who, in a stable order. A
// whole fingerprint means its key, listed or not. withBans also counts the
// names recorded with bans (for unban).
func (s *Server) lookup(who string, withBans bool) ([]target, error) {
	who = strings.TrimSpace(who)
	if who == "" {
		return nil, errUsage
	}
	snap := s.keys.Current()
	var out []target
	seen := map[string]bool{}
	add := func(fp string) {
		if !seen[fp] {
			seen[fp] = true
			out = append(out, s.describe(snap, fp))
		}
	}
	if keys.LooksLikeFingerprint(who) {
		fp := keys.NormalizeFingerprint(who)
		if len(fp) >= fpLen {
			add(fp)
			return out, nil
		}
		if len(fp) < len("SHA256:")+fpPrefixMin {
			return nil, room.Errorf("%s is too short: give at least %d characters of the fingerprint after SHA256:", safetext.Line(who, 48), fpPrefixMin)
		}
		for _, e := range snap.Entries() {
			if strings.HasPrefix(e.Fingerprint, fp) {
				add(e.Fingerprint)
			}
		}
		for _, id := range s.hub.OnlineIDs() {
			if strings.HasPrefix(id, fp) {
				add(id)
			}
		}
		for _, b := range s.access.Bans() {
			if strings.HasPrefix(b.Fingerprint, fp) {
				add(b.Fingerprint)
			}
		}
		return out, nil
	}
	fold := safetext.Fold(who)
	if m, ok := s.hub.FindMember(who); ok { // the name on screen now
		add(m.ID)
	}
	if e, ok := snap.ByName(who); ok { // the key's name
		add(e.Fingerprint)
	}
	for _, e := range snap.Entries() { // the name someone had when they left
		if !seen[e.Fingerprint] {
			if n, ok := s.hub.KnownName(e.Fingerprint); ok && safetext.Fold(n) == fold {
				add(e.Fingerprint)
			}
		}
	}
	if withBans {
		for _, b := range s.access.Bans() {
			if b.Name != "" && safetext.Fold(b.Name) == fold {
				add(b.Fingerprint)
			}
		}
	}
	return out, nil
}

// ambiguous refuses a word that means more than one person, naming them.
func ambiguous(who string, cands []target) error {
	list := make([]string, len(cands))
	for i, c := range cands {
		list[i] = c.String()
	}
	return room.Errorf("%s could mean %d people: %s. Name one by its fingerprint (SHA256:... as shown)",
		safetext.Line(who, 48), len(cands), strings.Join(list, "; "))
}

// pick returns the one candidate for which keep holds. With none, notFound
// is the error; when exactly one person was named but keep does not hold
// for them, missed says why (given that person).
func pick(who string, cands []target, keep func(target) bool, notFound error, missed func(target) error) (target, error) {
	var kept []target
	for _, c := range cands {
		if keep == nil || keep(c) {
			kept = append(kept, c)
		}
	}
	switch {
	case len(kept) == 1:
		return kept[0], nil
	case len(kept) > 1:
		return target{}, ambiguous(who, kept)
	case len(cands) == 1 && missed != nil:
		return target{}, missed(cands[0])
	}
	return target{}, notFound
}

// resolveOnline finds someone connected now.
func (s *Server) resolveOnline(who string) (target, error) {
	cands, err := s.lookup(who, false)
	if err != nil {
		return target{}, err
	}
	online := func(t target) bool { _, ok := s.hub.Member(t.id); return ok }
	return pick(who, cands, online,
		room.Errorf("nobody called %s is connected (a name, the key's name or a fingerprint)", safetext.Line(who, 48)),
		func(t target) error { return room.Errorf("%s is not connected", t) })
}

// resolve finds a key by the display name of someone connected (or who
// was), the name of a key in authorized_keys, or a fingerprint (any key,
// listed or not).
func (s *Server) resolve(who string) (target, error) {
	cands, err := s.lookup(who, false)
	if err != nil {
		return target{}, err
	}
	return pick(who, cands, nil,
		room.Errorf("nobody called %s is connected, known or in authorized_keys (a fingerprint works too)", safetext.Line(who, 48)), nil)
}
