// Package accesstest checks that an access.Store behaves as the access
// package expects, so that every implementation runs the same tests.
package accesstest

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"parley/access"
)

// Run tests the Store that open returns; open is called once per subtest
// and must return an empty store. reopen, when not nil, returns a store
// over the same data as its argument (a restart), to check durability.
func Run(t *testing.T, open func(t *testing.T) access.Store, reopen func(t *testing.T, st access.Store) access.Store) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("bans", func(t *testing.T) {
		st := open(t)
		b := access.Ban{Fingerprint: "SHA256:aaa", Name: "mallory", Reason: "spam", By: "SHA256:admin", ByName: "alice",
			Created: base, Until: base.Add(time.Hour)}
		forever := access.Ban{Fingerprint: "SHA256:bbb", Created: base.Add(time.Second)}
		for _, x := range []access.Ban{b, forever} {
			if err := st.PutBan(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		b.Reason = "spam again" // replaces
		if err := st.PutBan(ctx, b); err != nil {
			t.Fatal(err)
		}
		check := func(st access.Store) {
			t.Helper()
			got, err := st.Bans(ctx)
			if err != nil {
				t.Fatal(err)
			}
			byFP := map[string]access.Ban{}
			for _, x := range got {
				byFP[x.Fingerprint] = x
			}
			if len(got) != 2 || !sameBan(byFP[b.Fingerprint], b) || !sameBan(byFP[forever.Fingerprint], forever) {
				t.Fatalf("Bans = %+v, want %+v and %+v", got, b, forever)
			}
		}
		check(st)
		if reopen != nil {
			st = reopen(t, st)
			check(st)
		}
		if ok, err := st.DeleteBan(ctx, b.Fingerprint); !ok || err != nil {
			t.Fatalf("DeleteBan = %v, %v", ok, err)
		}
		if ok, err := st.DeleteBan(ctx, b.Fingerprint); ok || err != nil {
			t.Fatalf("second DeleteBan = %v, %v; want false, nil", ok, err)
		}
		if got, _ := st.Bans(ctx); len(got) != 1 || got[0].Fingerprint != forever.Fingerprint {
			t.Fatalf("after DeleteBan: %+v", got)
		}
	})

	t.Run("invites", func(t *testing.T) {
		st := open(t)
		now := time.Now()
		one := access.Invite{Hash: sha256.Sum256([]byte("one")), UsesLeft: 1, Expires: now.Add(time.Hour), By: "SHA256:admin", Created: now}
		two := access.Invite{Hash: sha256.Sum256([]byte("two")), UsesLeft: 2, Expires: now.Add(2 * time.Hour), Created: now}
		for _, inv := range []access.Invite{one, two} {
			if err := st.PutInvite(ctx, inv); err != nil {
				t.Fatal(err)
			}
		}
		if until, err := st.InvitesOpenUntil(ctx, now); err != nil || !until.Equal(two.Expires) {
			t.Fatalf("InvitesOpenUntil = %v, %v; want %v", until, err, two.Expires)
		}
		redeem := func(h [sha256.Size]byte, at time.Time, want bool) {
			t.Helper()
			if ok, err := st.RedeemInvite(ctx, h, at); err != nil || ok != want {
				t.Fatalf("RedeemInvite at %v = %v, %v; want %v", at.Sub(now), ok, err, want)
			}
		}
		redeem(one.Hash, now, true)
		redeem(one.Hash, now, false) // spent
		if err := st.RefundInvite(ctx, one.Hash); err != nil {
			t.Fatal(err)
		}
		if reopen != nil {
			st = reopen(t, st)
		}
		redeem(one.Hash, now.Add(time.Hour), false) // expired exactly at Expires
		redeem(one.Hash, now.Add(time.Minute), true)
		redeem(sha256.Sum256([]byte("wrong")), now, false)
		redeem(two.Hash, now, true)
		if until, _ := st.InvitesOpenUntil(ctx, now); !until.Equal(two.Expires) {
			t.Fatalf("InvitesOpenUntil with one use of two left = %v", until)
		}
		redeem(two.Hash, now, true)
		if until, err := st.InvitesOpenUntil(ctx, now); err != nil || !until.IsZero() {
			t.Fatalf("InvitesOpenUntil with everything spent = %v, %v; want zero", until, err)
		}
		if until, _ := st.InvitesOpenUntil(ctx, now.Add(3*time.Hour)); !until.IsZero() {
			t.Fatalf("InvitesOpenUntil after every expiry = %v", until)
		}
	})
}

func sameBan(a, b access.Ban) bool {
	return a.Fingerprint == b.Fingerprint && a.Name == b.Name && a.Reason == b.Reason && a.By == b.By &&
		a.ByName == b.ByName && a.Created.Equal(b.Created) && a.Until.Equal(b.Until)
}
