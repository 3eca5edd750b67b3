package store

import (
	"context"
	"testing"
	"time"

	"parley/access"
)

// credentials is web.Credentials as the store implements it (store does
// not import web; web's own tests and app check the real interface).
type credentials interface {
	AddPasskey(ctx context.Context, identity string, id, record []byte, created time.Time) error
	Passkeys(ctx context.Context, identity string) ([][]byte, error)
	PasskeyOwner(ctx context.Context, id []byte) (string, []byte, error)
	UpdatePasskey(ctx context.Context, id, record []byte, used time.Time) error
	RemovePasskeys(ctx context.Context, identity string) (int, error)
}

var _ credentials = (*SQLite)(nil)

func TestPasskeysAndAccountsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Unix(1_800_000_000, 0).UTC()
	if err := s.AddPasskey(ctx, "SHA256:alice", []byte{1, 2}, []byte(`{"a":1}`), now); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPasskey(ctx, "web:carol", []byte{3}, []byte(`{"c":1}`), now); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPasskey(ctx, "web:carol", []byte{3}, []byte(`{"dup":1}`), now); err == nil {
		t.Error("a credential id stored twice")
	}
	if err := s.PutAccount(ctx, access.Account{ID: "web:carol", Name: "carol", Created: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdatePasskey(ctx, []byte{1, 2}, []byte(`{"a":2}`), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, s.Path()) // a restart
	who, rec, err := s.PasskeyOwner(ctx, []byte{1, 2})
	if err != nil || who != "SHA256:alice" || string(rec) != `{"a":2}` {
		t.Fatalf("PasskeyOwner after reopen = %q %s %v", who, rec, err)
	}
	if who, _, err := s.PasskeyOwner(ctx, []byte{9}); err != nil || who != "" {
		t.Fatalf("PasskeyOwner of an unknown id = %q, %v", who, err)
	}
	recs, err := s.Passkeys(ctx, "web:carol")
	if err != nil || len(recs) != 1 || string(recs[0]) != `{"c":1}` {
		t.Fatalf("Passkeys(carol) = %q, %v", recs, err)
	}
	list, err := s.PasskeyList(ctx)
	if err != nil || len(list) != 2 || list[0].Identity != "SHA256:alice" || !list[0].LastUsed.Equal(now.Add(time.Hour)) || !list[1].LastUsed.IsZero() {
		t.Fatalf("PasskeyList = %+v, %v", list, err)
	}
	accts, err := s.Accounts(ctx)
	if err != nil || len(accts) != 1 || accts[0].ID != "web:carol" || accts[0].Name != "carol" || !accts[0].Created.Equal(now) {
		t.Fatalf("Accounts after reopen = %+v, %v", accts, err)
	}

	if n, err := s.RemovePasskeys(ctx, "web:carol"); err != nil || n != 1 {
		t.Fatalf("RemovePasskeys = %d, %v", n, err)
	}
	if ok, err := s.DeleteAccount(ctx, "web:carol"); err != nil || !ok {
		t.Fatalf("DeleteAccount = %v, %v", ok, err)
	}
	s = openAt(t, s.Path())
	if accts, _ := s.Accounts(ctx); len(accts) != 0 {
		t.Errorf("a deleted account came back: %+v", accts)
	}
	if who, _, _ := s.PasskeyOwner(ctx, []byte{3}); who != "" {
		t.Errorf("a removed passkey came back, of %s", who)
	}
}
