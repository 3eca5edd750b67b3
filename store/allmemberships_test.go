package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// AllMemberships lists every identity's rooms, as SetMembership left them:
// what a node publishes when it first joins a cluster (issue 15).
func TestAllMembershipsListsEveryIdentity(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "parley.db"))
	for _, m := range [][2]string{{"SHA256:bob", "dev"}, {"SHA256:bob", "board"}, {"SHA256:carol", "dev"}, {"SHA256:dave", "ops"}} {
		if err := s.SetMembership(ctx, m[0], m[1], true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetMembership(ctx, "SHA256:dave", "ops", false); err != nil {
		t.Fatal(err)
	}
	all, err := s.AllMemberships(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(all); got != "map[SHA256:bob:[board dev] SHA256:carol:[dev]]" {
		t.Fatalf("AllMemberships = %s", got)
	}
}
