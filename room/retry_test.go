package room

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flakyLog is a remoteLog that answers ErrUnavailable: down makes the next
// appends fail without committing, ghost commits one and still fails (an
// acknowledgement lost in a failover), as natslog does with NATS away.
type flakyLog struct {
	*remoteLog
	down    atomic.Int32 // appends to refuse; negative: all of them
	ghost   atomic.Bool  // commit the next append and fail it
	appends atomic.Int32
}

func (l *flakyLog) Append(ctx context.Context, room string, recs []Record) error {
	l.appends.Add(1)
	if n := l.down.Load(); n != 0 {
		if n > 0 {
			l.down.Add(-1)
		}
		return fmt.Errorf("flaky log: %w", ErrUnavailable)
	}
	if err := l.remoteLog.Append(ctx, room, recs); err != nil {
		return err
	}
	if l.ghost.CompareAndSwap(true, false) {
		return fmt.Errorf("flaky log: acknowledgement lost: %w", ErrUnavailable)
	}
	return nil
}

// sendAsync sends text on its own goroutine and returns Send's answer.
func sendAsync(s *Session, text string) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*waitFor)
		defer cancel()
		done <- s.Send(ctx, text)
	}()
	return done
}

// With the Log unavailable, a sender is told "not sent, retrying" once,
// the message is kept and stored when the Log is back, shown once to
// everyone in its place, and Send reports success. Issue 15, Failures.
func TestUnavailableLogKeepsTheMessageAndRetries(t *testing.T) {
	log := &flakyLog{remoteLog: newRemoteLog()}
	h := newHub(t, Config{Log: log})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	log.down.Store(4)
	sent := sendAsync(alice, "kept")
	told, _ := until(t, alice, func(m Message) bool { return m.Kind == KindError })
	if !strings.HasPrefix(told.Text, "not sent, retrying") {
		t.Fatalf("the sender was told %q, want \"not sent, retrying\"", told.Text)
	}
	if err := <-sent; err != nil {
		t.Fatalf("Send of the kept message: %v", err)
	}
	if got := log.appends.Load(); got < 5 {
		t.Fatalf("%d appends, want the 4 refused and one that worked", got)
	}
	_, before := until(t, alice, isChat("kept"))
	for _, m := range before {
		if m.Kind == KindError {
			t.Fatalf("the sender was told again: %q (want once per message)", m.Text)
		}
	}
	send(t, alice, "next")
	until(t, alice, isChat("next"))
	for _, s := range []*Session{bob} {
		var chats []string
		for _, m := range chatsUntil(t, s, 2) {
			chats = append(chats, m.Text)
		}
		if chats[0] != "kept" || chats[1] != "next" {
			t.Fatalf("%s was shown %q, want the kept message once, then the next", s.ID(), chats)
		}
	}
	notReceived(t, bob, alice)
}

// A retried message that the Log had in fact stored (its acknowledgement
// lost) is shown once: the retry carries the same RecordID.
func TestUnavailableAfterCommitIsShownOnce(t *testing.T) {
	log := &flakyLog{remoteLog: newRemoteLog()}
	h := newHub(t, Config{Log: log})
	alice := connect(t, h, "id-alice", "alice")
	bob := connect(t, h, "id-bob", "bob")
	syncAll(t, alice, bob)

	log.ghost.Store(true)
	if err := <-sendAsync(alice, "ghost"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := log.count("lobby", func(r Record) bool { return r.Text == "ghost" }); n != 2 {
		t.Fatalf("the log holds the message %d times, want 2 (stored, then retried)", n)
	}
	send(t, alice, "after")
	for _, s := range []*Session{bob, alice} {
		var chats []string
		for _, m := range chatsUntil(t, s, 2) {
			chats = append(chats, m.Text)
		}
		if chats[0] != "ghost" || chats[1] != "after" {
			t.Fatalf("%s was shown %q, want the message once, then the next", s.ID(), chats)
		}
	}
}

// A message kept longer than retryFor is given up, and its sender told it
// was not sent; a hub closing with a message kept answers its sender too.
func TestUnavailableGivesUpAndCloseAnswers(t *testing.T) {
	var offset atomic.Int64 // the hub's clock runs ahead by this
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	log := &flakyLog{remoteLog: newRemoteLog()}
	h := newHub(t, Config{Log: log, Now: now})
	alice := connect(t, h, "id-alice", "alice")
	syncAll(t, alice)

	log.down.Store(-1)
	sent := sendAsync(alice, "never")
	until(t, alice, func(m Message) bool { return m.Kind == KindError })
	offset.Store(int64(retryFor + time.Second))
	err := <-sent
	var ue *Error
	if !errors.As(err, &ue) || !strings.Contains(ue.Error(), "not sent") || strings.Contains(ue.Error(), "retrying") {
		t.Fatalf("after retryFor: %v, want \"not sent\" (given up)", err)
	}

	offset.Store(0)
	sent = sendAsync(alice, "at close")
	until(t, alice, func(m Message) bool { return m.Kind == KindError })
	closeHub(t, h)
	select {
	case err := <-sent:
		if !errors.As(err, &ue) || !strings.Contains(ue.Error(), "not sent") {
			t.Fatalf("a kept message at close: %v, want \"not sent\"", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the sender of a kept message was left waiting after the hub closed")
	}
}
