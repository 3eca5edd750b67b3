package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"parley/safetext"
)

// ErrInvalidInvite is the one answer to a code that is wrong, spent or
// expired. Its text is safe to show to whoever typed the code.
var ErrInvalidInvite = errors.New("invalid or expired invite code")

// Limits on invites.
const (
	// CodeLen is the length of an invite code: 12 base32 characters, 60
	// random bits.
	CodeLen = 12
	// MaxUses bounds the uses of one invite.
	MaxUses = 1000
	// MaxTTL bounds how long an invite stays valid.
	MaxTTL = 30 * 24 * time.Hour
	// DefaultTTL is how long an invite stays valid when not said.
	DefaultTTL = 24 * time.Hour
)

// Ban keeps one key out.
type Ban struct {
	// Fingerprint is the SHA256 fingerprint of the banned key.
	Fingerprint string
	// Name is the name the key had when it was banned ("" if unknown), for
	// lists and unban by name.
	Name string
	// Reason is what the admin gave, shown to the banned person.
	Reason string
	// By and ByName identify the admin who banned.
	By, ByName string
	// Created is when the ban was made.
	Created time.Time
	// Until is when the ban ends; the zero time means until lifted.
	Until time.Time
}

// Active reports whether the ban is in force at now.
func (b Ban) Active(now time.Time) bool { return b.Until.IsZero() || now.Before(b.Until) }

// Term says how long the ban lasts, for people: "until 2026-01-02 15:04 UTC"
// or "until an admin lifts it".
func (b Ban) Term() string {
	if b.Until.IsZero() {
		return "until an admin lifts it"
	}
	return "until " + b.Until.UTC().Format("2006-01-02 15:04 UTC")
}

// Invite is a stored invite: never the code itself, only its hash.
type Invite struct {
	Hash     [sha256.Size]byte
	UsesLeft int
	Expires  time.Time
	// By and ByName identify the admin who made it.
	By, ByName string
	Created    time.Time
}

// Store keeps bans and invites durably. Implementations must be safe for
// concurrent use.
type Store interface {
	// PutBan records b, replacing any ban of the same fingerprint.
	PutBan(ctx context.Context, b Ban) error
	// DeleteBan lifts the ban of fingerprint; it reports whether there was one.
	DeleteBan(ctx context.Context, fingerprint string) (bool, error)
	// Bans returns every ban stored (expired ones may be included).
	Bans(ctx context.Context) ([]Ban, error)
	// PutInvite stores a new invite.
	PutInvite(ctx context.Context, inv Invite) error
	// RedeemInvite takes one use of the invite with this hash, atomically,
	// if it has uses left and has not expired at now. It reports whether it
	// did.
	RedeemInvite(ctx context.Context, hash [sha256.Size]byte, now time.Time) (bool, error)
	// RefundInvite gives back one use taken by RedeemInvite.
	RefundInvite(ctx context.Context, hash [sha256.Size]byte) error
	// InvitesOpenUntil returns the latest expiry among invites with uses
	// left that have not expired at now (the zero time if none).
	InvitesOpenUntil(ctx context.Context, now time.Time) (time.Time, error)
}

// Control is the access lists in use: bans cached in memory, invites in the
// Store. It is safe for concurrent use.
type Control struct {
	st  Store
	now func() time.Time

	mu        sync.Mutex
	bans      map[string]Ban // by fingerprint; guarded by mu
	openUntil time.Time      // guarded by mu: no invite is usable after this
}

// Open loads the bans of st. now is the clock (nil means time.Now).
func Open(ctx context.Context, st Store, now func() time.Time) (*Control, error) {
	if now == nil {
		now = time.Now
	}
	c := &Control{st: st, now: now, bans: make(map[string]Ban)}
	bans, err := st.Bans(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading bans: %w", err)
	}
	t := now()
	for _, b := range bans {
		if b.Active(t) {
			c.bans[b.Fingerprint] = b
		}
	}
	if c.openUntil, err = st.InvitesOpenUntil(ctx, t); err != nil {
		return nil, fmt.Errorf("loading invites: %w", err)
	}
	return c, nil
}

// Banned returns the ban in force on fingerprint, if any. It never touches
// the Store: it is called for every key offered at login.
func (c *Control) Banned(fingerprint string) (Ban, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.bans[fingerprint]
	if ok && !b.Active(c.now()) {
		delete(c.bans, fingerprint)
		return Ban{}, false
	}
	return b, ok
}

// Ban records b (Created is set to now when zero). A second ban of the same
// key replaces the first.
func (c *Control) Ban(ctx context.Context, b Ban) error {
	if b.Fingerprint == "" {
		return errors.New("access: a ban needs a fingerprint")
	}
	if b.Created.IsZero() {
		b.Created = c.now()
	}
	b.Name = safetext.Line(b.Name, safetext.MaxNameRunes)
	b.Reason = safetext.Line(b.Reason, 200)
	if err := c.st.PutBan(ctx, b); err != nil {
		return err
	}
	c.mu.Lock()
	c.bans[b.Fingerprint] = b
	c.mu.Unlock()
	return nil
}

// Unban lifts the ban that who names: a fingerprint or the name recorded
// with the ban. It returns the ban lifted.
func (c *Control) Unban(ctx context.Context, who string) (Ban, bool, error) {
	b, ok := c.Find(who)
	if !ok {
		return Ban{}, false, nil
	}
	if _, err := c.st.DeleteBan(ctx, b.Fingerprint); err != nil {
		return Ban{}, false, err
	}
	c.mu.Lock()
	delete(c.bans, b.Fingerprint)
	c.mu.Unlock()
	return b, true, nil
}

// Find returns the ban in force that who names: its fingerprint (with or
// without "SHA256:") or the name recorded with it (compared with
// safetext.Fold).
func (c *Control) Find(who string) (Ban, bool) {
	who = strings.TrimSpace(who)
	if who == "" {
		return Ban{}, false
	}
	for _, b := range c.Bans() {
		if b.Fingerprint == who || b.Fingerprint == "SHA256:"+who || (b.Name != "" && safetext.Fold(b.Name) == safetext.Fold(who)) {
			return b, true
		}
	}
	return Ban{}, false
}

// Bans lists the bans in force, oldest first.
func (c *Control) Bans() []Ban {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	out := make([]Ban, 0, len(c.bans))
	for fp, b := range c.bans {
		if !b.Active(now) {
			delete(c.bans, fp)
			continue
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out
}

// CreateInvite makes an invite for uses newcomers (1 to MaxUses) valid for
// ttl (up to MaxTTL; DefaultTTL when zero) and returns its code, which is
// shown once and never stored.
func (c *Control) CreateInvite(ctx context.Context, uses int, ttl time.Duration, by, byName string) (string, Invite, error) {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	switch {
	case uses < 1 || uses > MaxUses:
		return "", Invite{}, fmt.Errorf("uses must be 1 to %d", MaxUses)
	case ttl < time.Minute || ttl > MaxTTL:
		return "", Invite{}, fmt.Errorf("ttl must be between 1m and %s", formatDays(MaxTTL))
	}
	code, err := NewCode()
	if err != nil {
		return "", Invite{}, err
	}
	now := c.now()
	inv := Invite{Hash: HashCode(code), UsesLeft: uses, Expires: now.Add(ttl), By: by, ByName: byName, Created: now}
	if err := c.st.PutInvite(ctx, inv); err != nil {
		return "", Invite{}, err
	}
	c.mu.Lock()
	if inv.Expires.After(c.openUntil) {
		c.openUntil = inv.Expires
	}
	c.mu.Unlock()
	return code, inv, nil
}

// InvitesOpen reports whether an invite may be usable now. It may say yes
// when the last one was just used (it is refreshed after each use), never
// no while one is usable. It never touches the Store.
func (c *Control) InvitesOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().Before(c.openUntil)
}

// Redeem takes one use of the invite with this code. A wrong, spent or
// expired code gives ErrInvalidInvite. undo gives the use back, for when
// what the code was for could not be done after all.
func (c *Control) Redeem(ctx context.Context, code string) (undo func(context.Context) error, err error) {
	norm, ok := NormalizeCode(code)
	if !ok {
		return nil, ErrInvalidInvite
	}
	hash := HashCode(norm)
	ok, err = c.st.RedeemInvite(ctx, hash, c.now())
	if err != nil {
		return nil, err
	}
	c.refresh(ctx)
	if !ok {
		return nil, ErrInvalidInvite
	}
	return func(ctx context.Context) error {
		err := c.st.RefundInvite(ctx, hash)
		c.refresh(ctx)
		return err
	}, nil
}

// refresh re-reads when the invites close. On a store error it keeps the
// old (wider) answer: InvitesOpen may say yes too long, never no too soon.
func (c *Control) refresh(ctx context.Context) {
	now := c.now()
	until, err := c.st.InvitesOpenUntil(ctx, now)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.openUntil = until
	c.mu.Unlock()
}

// codeEncoding is base32 without padding: letters and 2-7, nothing that
// looks like 0, 1 or 8.
var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewCode returns a random invite code of CodeLen lower-case characters.
func NewCode() (string, error) {
	b := make([]byte, (CodeLen*5+7)/8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("access: random code: %w", err)
	}
	return strings.ToLower(codeEncoding.EncodeToString(b)[:CodeLen]), nil
}

// NormalizeCode returns the canonical form of a code as typed (any case,
// with spaces or dashes between groups), and whether it can be a code at
// all.
func NormalizeCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r == '-' || r == ' ':
		case r >= 'a' && r <= 'z', r >= '2' && r <= '7':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r - 'A' + 'a')
		default:
			return "", false
		}
		if b.Len() > CodeLen {
			return "", false
		}
	}
	return b.String(), b.Len() == CodeLen
}

// HashCode returns what is stored for a code: the SHA-256 of its canonical
// form.
func HashCode(code string) [sha256.Size]byte {
	norm, _ := NormalizeCode(code)
	return sha256.Sum256([]byte("parley invite " + norm))
}

// ParseDuration reads a duration as admins type it: a Go duration ("90m",
// "2h") or a number of days ("7d"). It must be positive.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n > 0 && fmt.Sprint(n) == days && n <= 36500 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a duration: use for example 30m, 12h or 7d", safetext.Line(s, 24))
}

// FormatDuration writes d briefly, in days when it is a whole number of
// them ("7d"), else as Go does ("1h30m0s" becomes "1h30m").
func FormatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return formatDays(d)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func formatDays(d time.Duration) string { return fmt.Sprintf("%dd", d/(24*time.Hour)) }
