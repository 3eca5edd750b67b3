package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/room"
)

// searchFixture is a lobby, another room and private messages between
// alice and bob and between carol and dave.
func searchFixture(t *testing.T) *SQLite {
	t.Helper()
	s := openTest(t)
	ctx := context.Background()
	lobby := []string{
		"I love Café au lait",                       // 1
		"日本語を話します",                                  // 2
		"Привет, мир",                               // 3
		"東京 is big",                                 // 4
		`he said "hello" * NEAR(x y) -minus col:on`, // 5
		"secret",                            // 6
		"public",                            // 7
		"100% sure_thing",                   // 8
		"the naïve coöperation of Ångström", // 9
		"emoji 🎉 party",                     // 10
	}
	for i, text := range lobby {
		if err := s.Append(ctx, []room.Message{chat("lobby", uint64(i+1), text)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx, []room.Message{chat("other", 1, "secret plans"), chat("other", 2, "café elsewhere")}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []room.Message{
		dm("SHA256:alice", "SHA256:bob", "secret rendezvous at the café", base.Add(time.Hour)),
		dm("SHA256:carol", "SHA256:dave", "secret between carol and dave", base.Add(time.Hour)),
	} {
		if _, err := s.AppendPrivate(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSearch(t *testing.T) {
	s := searchFixture(t)
	ctx := context.Background()
	const alice = "SHA256:alice"
	for _, c := range []struct {
		query string
		want  []string // newest first
	}{
		// Case and diacritics are ignored, in any script.
		{"cafe", []string{"secret rendezvous at the café", "I love Café au lait"}},
		{"CAFÉ", []string{"secret rendezvous at the café", "I love Café au lait"}},
		{"café lait", []string{"I love Café au lait"}},
		{"naive cooperation angstrom", []string{"the naïve coöperation of Ångström"}},
		{"привет", []string{"Привет, мир"}},
		{"ПРИВЕТ", []string{"Привет, мир"}},
		{"мир", []string{"Привет, мир"}},
		// No spaces between words: substrings of three or more characters
		// use the index, shorter ones are scanned.
		{"日本語", []string{"日本語を話します"}},
		{"話します", []string{"日本語を話します"}},
		{"日本", []string{"日本語を話します"}},
		{"東京", []string{"東京 is big"}},
		{"東京 big", []string{"東京 is big"}},
		{"🎉", []string{"emoji 🎉 party"}},
		{"lov", []string{"I love Café au lait"}}, // substring
		// Room and privacy: alice sees the lobby and her own messages.
		{"secret", []string{"secret rendezvous at the café", "secret"}},
		{"plans", nil},
		{"carol", nil},
		// FTS5 syntax means itself, and cannot widen the match.
		{`secret OR public`, nil},
		{`secret AND public`, nil},
		{`NOT secret`, nil},
		{`secret NOT public`, nil},
		{`secret*`, nil},
		{`secr*`, nil},
		{`text:secret`, nil},
		{`messages_fts:secret`, nil},
		{`{text}:secret`, nil},
		{`^secret`, nil},
		{`NEAR(secret public)`, nil},
		{`NEAR(x`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		{`"hello"`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		{`"hello`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		{`"`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		{`""`, nil},
		{`"""`, nil},
		{`*`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		{`-minus`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		{`col:on`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		{`(`, []string{`he said "hello" * NEAR(x y) -minus col:on`}},
		// LIKE's wildcards are escaped.
		{`%`, []string{"100% sure_thing"}},
		{`_`, []string{"100% sure_thing"}},
		{`%%%`, nil},
		{`\`, nil},
		{`'`, nil},
		{"'; DROP TABLE messages; --", nil},
		{"secret\x00public", nil},
		{"bad \xff utf8", nil},
		// Nothing to look for.
		{"", nil},
		{"   \t\n", nil},
	} {
		got, err := s.Search(ctx, "lobby", alice, c.query, 10)
		if err != nil {
			t.Errorf("Search(%q): %v", c.query, err)
			continue
		}
		if fmt.Sprintf("%q", texts(got)) != fmt.Sprintf("%q", nonNil(c.want)) {
			t.Errorf("Search(%q) = %q, want %q", c.query, texts(got), c.want)
		}
		for _, m := range got {
			if m.Room != "lobby" && !(m.Room == "" && (m.FromID == alice || m.ToID == alice)) {
				t.Errorf("Search(%q) leaked %+v", c.query, m)
			}
		}
	}

	// The database is intact after all of that.
	if n, _ := s.LastSeq(ctx, "lobby"); n != 10 {
		t.Errorf("lobby LastSeq = %d", n)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestSearchScopesAndLimits(t *testing.T) {
	s := searchFixture(t)
	ctx := context.Background()
	for _, c := range []struct {
		room, identity, query string
		want                  []string
	}{
		{"lobby", "", "secret", []string{"secret"}},
		{"other", "", "secret", []string{"secret plans"}},
		{"", "SHA256:carol", "secret", []string{"secret between carol and dave"}},
		{"", "SHA256:dave", "secret", []string{"secret between carol and dave"}},
		{"", "SHA256:eve", "secret", nil},
		{"", "", "secret", nil},
		{"nowhere", "", "secret", nil},
	} {
		got, err := s.Search(ctx, c.room, c.identity, c.query, 10)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%q", texts(got)) != fmt.Sprintf("%q", nonNil(c.want)) {
			t.Errorf("Search(%q, %q, %q) = %q, want %q", c.room, c.identity, c.query, texts(got), c.want)
		}
	}

	fill(t, s, "big", 1, 300, 100)
	got, err := s.Search(ctx, "big", "", "message of big", 7)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs(got)) != "[300 299 298 297 296 295 294]" {
		t.Errorf("limit 7, newest first: %v", seqs(got))
	}
	if got, _ := s.Search(ctx, "big", "", "of", 3); fmt.Sprint(seqs(got)) != "[300 299 298]" {
		t.Errorf("short word, limit 3: %v", seqs(got))
	}
	if got, _ := s.Search(ctx, "big", "", "message", 0); len(got) != 0 {
		t.Errorf("limit 0 returned %d", len(got))
	}

	if _, err := s.Search(ctx, "lobby", "", strings.Repeat("x", MaxSearchBytes+1), 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("over-long query: %v, want ErrInvalid", err)
	}
	if _, err := s.Search(ctx, "lobby", "", strings.Repeat("a ", MaxSearchWords+1), 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("too many words: %v, want ErrInvalid", err)
	}
}

func TestSearchShortWordsOnlyScanRecentMessages(t *testing.T) {
	defer func(n int64) { shortScanWindow = n }(shortScanWindow)
	shortScanWindow = 5
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "lobby", 1, 20, 20) // "message N of lobby"
	got, err := s.Search(ctx, "lobby", "", "of", 100)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs(got)) != "[20 19 18 17 16]" {
		t.Errorf("short word over a window of 5: %v", seqs(got))
	}
	if got, _ := s.Search(ctx, "lobby", "", "message", 100); len(got) != 20 {
		t.Errorf("indexed word: %d results, want all 20", len(got))
	}
}

func TestSearchLooksAtTheNewestCandidatesOnly(t *testing.T) {
	defer func(n int64) { maxSearchCandidates = n }(maxSearchCandidates)
	maxSearchCandidates = 10
	s := openTest(t)
	ctx := context.Background()
	fill(t, s, "quiet", 1, 3, 3)  // "message N of quiet"
	fill(t, s, "busy", 1, 20, 20) // newer matches of "message"
	if got, _ := s.Search(ctx, "quiet", "", "message", 10); len(got) != 0 {
		t.Errorf("found %v beyond the newest 10 candidates", texts(got))
	}
	if got, _ := s.Search(ctx, "quiet", "", "of quiet", 10); len(got) != 3 {
		t.Errorf("a word only the quiet room holds: %v", texts(got))
	}
	if got, _ := s.Search(ctx, "busy", "", "message", 100); fmt.Sprint(seqs(got)) != "[20 19 18 17 16 15 14 13 12 11]" {
		t.Errorf("busy room: %v", seqs(got))
	}
}

func TestSearchWords(t *testing.T) {
	for _, c := range []struct {
		query       string
		long, short string
		fts         string
	}{
		{"hello world", "[hello world]", "[]", `"hello" "world"`},
		{`a "quoted" b`, `["quoted"]`, "[a b]", `"""quoted"""`},
		{"x\x00y\tzzz", "[zzz]", "[x y]", `"zzz"`},
		{"日本 日本語", "[日本語]", "[日本]", `"日本語"`},
		{`NEAR(a b) OR c*`, "[NEAR(a]", "[b) OR c*]", `"NEAR(a"`},
		{"", "[]", "[]", ""},
	} {
		long, short, err := searchWords(c.query)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(nonNil(long)) != c.long || fmt.Sprint(nonNil(short)) != c.short || ftsQuery(long) != c.fts {
			t.Errorf("searchWords(%q) = %v %v %s; want %s %s %s", c.query, long, short, ftsQuery(long), c.long, c.short, c.fts)
		}
	}
	if got := likePattern(`50%_\`); got != `%50\%\_\\%` {
		t.Errorf("likePattern = %s", got)
	}
}
