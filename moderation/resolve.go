package moderation

import (
	"fmt"
	"strings"

	"parley/command"
	"parley/keys"
	"parley/room"
	"parley/safetext"
)

// Finding the person an admin names, the same for every command and every
// front door: by the display name people see (now, or last, for someone who
// has left), by the key's name in authorized_keys, or by the key's
// fingerprint (whole, or its start: "SHA256:AbCd1234"). A word that could
// mean two people is refused with the list of them; the answer says which
// person was meant (name and short fingerprint).

// fpPrefixMin is how many characters after "SHA256:" a fingerprint given
// by its start needs (the short form shown is 8).
const fpPrefixMin = 8

// fpLen is the length of a whole SHA256 fingerprint with its prefix.
const fpLen = len("SHA256:") + 43

// ShortFP is the start of a fingerprint shown to people ("SHA256:AbCd1234").
func ShortFP(fp string) string {
	if len(fp) <= len("SHA256:")+fpPrefixMin {
		return fp
	}
	return fp[:len("SHA256:")+fpPrefixMin]
}

// Target is who an action is aimed at.
type Target struct {
	ID   string // the key's fingerprint
	Name string // the display name people see (now or last); "" if unknown
	Key  string // the key's name in authorized_keys; "" if none or not listed
}

// Label is the name to call the target by.
func (t Target) Label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Key
}

// String says who the target is, for people: "bobby (key bob,
// SHA256:AbCd1234)", "bob (SHA256:AbCd1234)", or the whole fingerprint of
// a key nobody knows by a name.
func (t Target) String() string {
	label := t.Label()
	switch {
	case label == "":
		return t.ID
	case t.Key != "" && safetext.Fold(t.Key) != safetext.Fold(label):
		return fmt.Sprintf("%s (key %s, %s)", label, t.Key, ShortFP(t.ID))
	}
	return fmt.Sprintf("%s (%s)", label, ShortFP(t.ID))
}

// Long is String with the whole fingerprint, for lists people copy from.
func (t Target) Long() string {
	if t.Label() == "" {
		return t.ID
	}
	return fmt.Sprintf("%s (%s)", t.Label(), t.ID)
}

// describe fills in what is known of the key fp.
func (s *Service) describe(fp string) Target {
	t := Target{ID: fp}
	if name, ok := s.keys.KeyName(fp); ok {
		t.Key = name
	}
	if n, ok := s.hub.KnownName(fp); ok {
		t.Name = n
	}
	if t.Label() == "" {
		if b, ok := s.access.Banned(fp); ok {
			t.Name = b.Name
		}
	}
	return t
}

// Find returns the one person who means for whom keep holds (nil keep:
// anyone who may be meant), as pick says, among those lookup finds.
func (s *Service) Find(who string, withBans bool, keep func(Target) bool, notFound error, missed func(Target) error) (Target, error) {
	cands, err := s.lookup(who, withBans)
	if err != nil {
		return Target{}, err
	}
	return pick(who, cands, keep, notFound, missed)
}

// lookup returns everyone who may be meant by who, in a stable order. A
// whole fingerprint means its key, listed or not. withBans also counts the
// names recorded with bans (for unban).
func (s *Service) lookup(who string, withBans bool) ([]Target, error) {
	who = strings.TrimSpace(who)
	if who == "" {
		return nil, command.ErrUsage
	}
	var out []Target
	seen := map[string]bool{}
	add := func(fp string) {
		if !seen[fp] {
			seen[fp] = true
			out = append(out, s.describe(fp))
		}
	}
	listed := s.keys.Fingerprints()
	if keys.LooksLikeFingerprint(who) {
		fp := keys.NormalizeFingerprint(who)
		if len(fp) >= fpLen {
			add(fp)
			return out, nil
		}
		if len(fp) < len("SHA256:")+fpPrefixMin {
			return nil, room.Errorf("%s is too short: give at least %d characters of the fingerprint after SHA256:", safetext.Line(who, 48), fpPrefixMin)
		}
		for _, id := range listed {
			if strings.HasPrefix(id, fp) {
				add(id)
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
	if fp, ok := s.keys.KeyNamed(who); ok { // the key's name
		add(fp)
	}
	for _, fp := range listed { // the name someone had when they left
		if !seen[fp] {
			if n, ok := s.hub.KnownName(fp); ok && safetext.Fold(n) == fold {
				add(fp)
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
func ambiguous(who string, cands []Target) error {
	list := make([]string, len(cands))
	for i, c := range cands {
		list[i] = c.String()
	}
	return room.Errorf("%s could mean %d people: %s. Name one by its fingerprint (SHA256:... as shown)",
		safetext.Line(who, 48), len(cands), strings.Join(list, "; "))
}

// pick returns the one candidate for which keep holds (nil keep: every
// one). With none, notFound is the error (nil: the zero Target and no
// error); when exactly one person was named but keep does not hold for
// them, missed says why (given that person).
func pick(who string, cands []Target, keep func(Target) bool, notFound error, missed func(Target) error) (Target, error) {
	var kept []Target
	for _, c := range cands {
		if keep == nil || keep(c) {
			kept = append(kept, c)
		}
	}
	switch {
	case len(kept) == 1:
		return kept[0], nil
	case len(kept) > 1:
		return Target{}, ambiguous(who, kept)
	case len(cands) == 1 && missed != nil:
		return Target{}, missed(cands[0])
	}
	return Target{}, notFound
}

// resolveOnline finds someone connected now.
func (s *Service) resolveOnline(who string) (Target, error) {
	online := func(t Target) bool { _, ok := s.hub.Member(t.ID); return ok }
	return s.Find(who, false, online,
		room.Errorf("nobody called %s is connected (a name, the key's name or a fingerprint)", safetext.Line(who, 48)),
		func(t Target) error { return room.Errorf("%s is not connected", t) })
}

// resolve finds a key by the display name of someone connected (or who
// was), the name of a key in authorized_keys, or a fingerprint (any key,
// listed or not).
func (s *Service) resolve(who string) (Target, error) {
	return s.Find(who, false, nil,
		room.Errorf("nobody called %s is connected, known or in authorized_keys (a fingerprint works too)", safetext.Line(who, 48)), nil)
}
