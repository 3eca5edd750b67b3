package durability

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/internal/testkit"
	"parley/room"
	"parley/store"
)

// durClient is one SSH session with a pty whose output is fed, chunk by
// chunk, to a terminal emulator: what a person would see (a
// testkit.Session). Its methods return instead of failing the test, so a
// client may run on any goroutine.
type durClient struct {
	*testkit.Session
	name string
}

// durDial logs in as user with signer, asks for a cols x rows pty and a
// shell, and starts feeding the output to an emulator. onScreen, when set,
// sees the screen after every chunk of output (on a reader goroutine).
// It returns an error rather than failing the test, so it may run on any
// goroutine; the caller closes the client.
func durDial(addr, user string, signer ssh.Signer, cols, rows int, onScreen func([]string)) (*durClient, error) {
	conn, err := testkit.DialKey(addr, user, signer, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", user, err)
	}
	s, err := testkit.Open(nil, conn, testkit.TermOptions{Name: user, W: cols, H: rows, OnScreen: onScreen})
	if err != nil {
		return nil, fmt.Errorf("%s: terminal: %w", user, err)
	}
	return &durClient{Session: s, name: user}, nil
}

// Type sends keystrokes; Enter is "\r".
func (c *durClient) Type(s string) error { return c.Send(s) }

// WaitFor waits until ok holds for the screen's rows (checked after every
// chunk of output), the output ends, or timeout passes. It reports whether
// ok held, and the last screen.
func (c *durClient) WaitFor(ok func(rows []string) bool, timeout time.Duration) (bool, string) {
	held, screen, ended := c.Await(timeout, nil, func(s string, _ []byte) bool { return ok(strings.Split(s, "\n")) })
	if ended {
		screen += "\n(output ended)"
	}
	return held, screen
}

// WaitText waits until some row of the screen contains text.
func (c *durClient) WaitText(t *testing.T, text string, timeout time.Duration) {
	t.Helper()
	if ok, screen := c.WaitFor(func(rows []string) bool { return durRow(rows, text) >= 0 }, timeout); !ok {
		t.Fatalf("%s: %q did not appear within %v; screen:\n%s", c.name, text, timeout, screen)
	}
}

// WaitEnded waits for the session and its output to end.
func (c *durClient) WaitEnded(timeout time.Duration) bool {
	ended, _ := c.AwaitEnd(timeout)
	return ended
}

// durRow returns the first row containing text, or -1.
func durRow(rows []string, text string) int {
	for i, r := range rows {
		if strings.Contains(r, text) {
			return i
		}
	}
	return -1
}

// durChatRow returns the first row showing text as a chat message of name
// ("name text", as the screen lays a message out after the time), or -1.
// The input box shows what is typed as "> text", which never matches.
func durChatRow(rows []string, name, text string) int {
	re := regexp.MustCompile(`(^|[\s│])` + regexp.QuoteMeta(name) + ` ` + regexp.QuoteMeta(text) + `($|[\s│])`)
	for i, r := range rows {
		if re.MatchString(r) {
			return i
		}
	}
	return -1
}

// durKeys writes authorized_keys with one key per name (name="..." so
// the name is reserved for the key) and returns the signers.
func durKeys(t *testing.T, dataDir string, names ...string) map[string]ssh.Signer {
	t.Helper()
	signers := make(map[string]ssh.Signer, len(names))
	var b strings.Builder
	for _, n := range names {
		s, line := testkit.NewKey(t)
		signers[n] = s
		fmt.Fprintf(&b, "name=%q %s\n", n, line)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "authorized_keys"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return signers
}

// durHistory opens the database of a stopped server the way the server
// does (store.Open); when check is set, verifies the whole file
// (store.Check: PRAGMA integrity_check and the search index); and returns
// the messages of roomName numbered above since, oldest first, after
// checking that they are numbered since+1, since+2, ... up to LastSeq.
func durHistory(t *testing.T, dataDir, roomName string, since uint64, check bool) []room.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(dataDir, "parley.db"))
	if err != nil {
		t.Fatalf("open the database after the server stopped: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("close the database: %v", err)
		}
	}()
	if check {
		if err := st.Check(ctx); err != nil {
			t.Fatalf("database check after the server stopped: %v", err)
		}
	}
	last, err := st.LastSeq(ctx, roomName)
	if err != nil {
		t.Fatalf("last sequence: %v", err)
	}
	if last < since {
		t.Fatalf("LastSeq went back from %d to %d", since, last)
	}
	// Twice what should be there, to see anything unexpected.
	msgs, err := st.Before(ctx, roomName, 0, int(2*(last-since))+10)
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	var out []room.Message
	for _, m := range msgs {
		if m.Seq > since {
			out = append(out, m)
		}
	}
	want := since + 1
	for _, m := range out {
		if m.Seq != want {
			t.Errorf("sequence numbers are not contiguous: after %d comes %d", want-1, m.Seq)
			break
		}
		want++
	}
	if want-1 != last {
		t.Errorf("LastSeq is %d but the newest message stored has seq %d", last, want-1)
	}
	return out
}

// durLockDB takes the database's write lock from another connection (as
// a backup tool holding a transaction would; to the server it looks like a
// stalled disk) so that the server cannot commit until release. The
// server waits for the lock (its busy timeout is 5s) with the batch it was
// about to store.
func durLockDB(path string) (release func(), err error) {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path),
		RawQuery: url.Values{"_busy_timeout": {"10000"}}.Encode()}
	db, err := sql.Open("sqlite", u.String()) // the driver the store registers
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("take the write lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}, nil
}

// TestMain removes the parley binary the tests built once they are done.
func TestMain(m *testing.M) { testkit.Main(m) }
