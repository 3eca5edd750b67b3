package access_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/access"
	"parley/access/accesstest"
)

func TestMemoryStore(t *testing.T) {
	accesstest.Run(t, func(*testing.T) access.Store { return access.NewMemory() }, nil)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, st access.Store, c *clock) *access.Control {
	t.Helper()
	ctl, err := access.Open(context.Background(), st, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return ctl
}

func TestInviteIsSingleUseAndExpires(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now()}
	ctl := open(t, access.NewMemory(), c)
	if ctl.InvitesOpen() {
		t.Fatal("invites open before any was made")
	}
	code, inv, err := ctl.CreateInvite(ctx, 0+1, 0, "SHA256:admin", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !inv.Expires.Equal(c.now().Add(access.DefaultTTL)) || inv.UsesLeft != 1 {
		t.Errorf("invite %+v: want 1 use for %v", inv, access.DefaultTTL)
	}
	if !ctl.InvitesOpen() {
		t.Fatal("invites closed with one open")
	}
	if _, err := ctl.Redeem(ctx, "wrongwrongwr"); !errors.Is(err, access.ErrInvalidInvite) {
		t.Fatalf("wrong code: %v", err)
	}
	// Typed in capitals with dashes, it is the same code.
	typed := strings.ToUpper(code[:4] + "-" + code[4:8] + " " + code[8:])
	if _, err := ctl.Redeem(ctx, typed); err != nil {
		t.Fatalf("first use of %q: %v", typed, err)
	}
	_, spent := ctl.Redeem(ctx, code)
	if !errors.Is(spent, access.ErrInvalidInvite) {
		t.Fatalf("second use: %v, want ErrInvalidInvite", spent)
	}
	if ctl.InvitesOpen() {
		t.Error("invites still open after the only one was spent")
	}

	// Expired: the same error as a wrong or spent code.
	code2, _, err := ctl.CreateInvite(ctx, 3, time.Hour, "SHA256:admin", "alice")
	if err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	_, expired := ctl.Redeem(ctx, code2)
	_, wrong := ctl.Redeem(ctx, "zzzzzzzzzzzz")
	if !errors.Is(expired, access.ErrInvalidInvite) || expired.Error() != wrong.Error() || wrong.Error() != spent.Error() {
		t.Errorf("expired %v, wrong %v, spent %v: want one and the same error", expired, wrong, spent)
	}
	if ctl.InvitesOpen() {
		t.Error("invites open after the last one expired")
	}
}

func TestInviteUndo(t *testing.T) {
	ctx := context.Background()
	ctl := open(t, access.NewMemory(), &clock{t: time.Now()})
	code, _, err := ctl.CreateInvite(ctx, 1, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	undo, err := ctl.Redeem(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	if !ctl.InvitesOpen() {
		t.Error("a refunded invite does not count as open")
	}
	if _, err := ctl.Redeem(ctx, code); err != nil {
		t.Errorf("the refunded use: %v", err)
	}
}

func TestInviteLimits(t *testing.T) {
	ctl := open(t, access.NewMemory(), &clock{t: time.Now()})
	for _, tc := range []struct {
		uses int
		ttl  time.Duration
	}{{0, time.Hour}, {access.MaxUses + 1, time.Hour}, {1, time.Second}, {1, access.MaxTTL + time.Hour}, {-1, 0}} {
		if _, _, err := ctl.CreateInvite(context.Background(), tc.uses, tc.ttl, "", ""); err == nil {
			t.Errorf("CreateInvite(%d, %v) succeeded", tc.uses, tc.ttl)
		}
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		code, err := access.NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != access.CodeLen || strings.Trim(code, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("code %q: want %d characters of lower-case base32", code, access.CodeLen)
		}
		if seen[code] {
			t.Fatalf("code %q made twice", code)
		}
		seen[code] = true
	}
	for in, want := range map[string]string{
		"abcd-efgh-ijkl": "abcdefghijkl", "ABCD EFGH IJKL": "abcdefghijkl", "abcdefghijk": "", "abcdefghijklm": "",
		"abcdefghijk1": "", "abcdefghijk\x00": "", "äbcdefghijkl": "", "": "",
	} {
		got, ok := access.NormalizeCode(in)
		if ok != (want != "") || (ok && got != want) {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if access.HashCode("abcd-efgh-ijkl") != access.HashCode("ABCDEFGHIJKL") || access.HashCode("abcdefghijkl") == access.HashCode("abcdefghijkm") {
		t.Error("HashCode does not follow NormalizeCode")
	}
}

func TestBans(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st := access.NewMemory()
	ctl := open(t, st, c)
	if err := ctl.Ban(ctx, access.Ban{Fingerprint: "SHA256:mal", Name: "mallory", Reason: "spam\x1b[2J", Until: c.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c.add(time.Second)
	if err := ctl.Ban(ctx, access.Ban{Fingerprint: "SHA256:eve", Name: "eve"}); err != nil {
		t.Fatal(err)
	}
	b, ok := ctl.Banned("SHA256:mal")
	if !ok || strings.ContainsRune(b.Reason, 0x1b) || b.Term() != "until 2026-03-01 13:00 UTC" {
		t.Fatalf("Banned = %+v, %v (term %q)", b, ok, b.Term())
	}
	if _, ok := ctl.Banned("SHA256:alice"); ok {
		t.Error("an unbanned key is banned")
	}
	// Another Control over the same store (a restart) knows both bans.
	if got := open(t, st, c).Bans(); len(got) != 2 || got[0].Name != "mallory" || got[1].Name != "eve" {
		t.Errorf("bans after reopening: %+v", got)
	}
	if b, ok := ctl.Find("MALLORY"); !ok || b.Fingerprint != "SHA256:mal" {
		t.Errorf("Find by name: %+v %v", b, ok)
	}
	if b, ok := ctl.Find("eve"); !ok || b.Term() != "until an admin lifts it" {
		t.Errorf("Find(eve): %+v %v", b, ok)
	}

	c.add(time.Hour)
	if _, ok := ctl.Banned("SHA256:mal"); ok {
		t.Error("a ban outlived its end")
	}
	if got := ctl.Bans(); len(got) != 1 || got[0].Fingerprint != "SHA256:eve" {
		t.Errorf("bans after one ended: %+v", got)
	}
	if b, ok, err := ctl.Unban(ctx, "eve"); err != nil || !ok || b.Fingerprint != "SHA256:eve" {
		t.Fatalf("Unban(eve) = %+v, %v, %v", b, ok, err)
	}
	if _, ok := ctl.Banned("SHA256:eve"); ok {
		t.Error("still banned after Unban")
	}
	if _, ok, _ := ctl.Unban(ctx, "eve"); ok {
		t.Error("a second Unban found a ban")
	}
	if got := open(t, st, c).Bans(); len(got) != 0 {
		t.Errorf("the store still holds bans in force: %+v", got)
	}
	if err := ctl.Ban(ctx, access.Ban{}); err == nil {
		t.Error("a ban without a fingerprint was accepted")
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"30m": 30 * time.Minute, "2h": 2 * time.Hour, "7d": 7 * 24 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := access.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1h", "0d", "d", "1.5d", "abc", "7days", "+3d"} {
		if _, err := access.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
	for d, want := range map[time.Duration]string{30 * time.Minute: "30m", 2 * time.Hour: "2h", 90 * time.Minute: "1h30m", 48 * time.Hour: "2d", 45 * time.Second: "45s", 36 * time.Hour: "36h"} {
		if got := access.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
