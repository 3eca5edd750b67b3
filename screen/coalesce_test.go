package screen

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// slowTerm is a terminal whose writes wait while held: a client that has
// not read the last frame yet (or a server too busy to send it).
type slowTerm struct {
	*term
	mu      sync.Mutex
	held    chan struct{} // closed to let writes through; nil: not held
	blocked chan struct{} // signalled when a write starts waiting
	writes  int
}

func (s *slowTerm) hold() {
	s.mu.Lock()
	s.held = make(chan struct{})
	s.mu.Unlock()
}

func (s *slowTerm) release() {
	s.mu.Lock()
	close(s.held)
	s.held = nil
	s.mu.Unlock()
}

func (s *slowTerm) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.writes++
	held := s.held
	s.mu.Unlock()
	if held != nil {
		select {
		case s.blocked <- struct{}{}:
		default:
		}
		<-held
	}
	return s.term.Write(p)
}

func (s *slowTerm) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// addLines is a batch of new log lines for a feedLog.
type addLines []string

// feedLog is a log model whose lines arrive as messages, handled on the
// program's loop, through Send or (fed) through Feed as parley's chat
// model takes its session's messages: everything queued in one Take.
type feedLog struct {
	*logModel
	qmu   sync.Mutex
	queue []string
	ready chan struct{}
}

func (m *feedLog) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if add, ok := msg.(addLines); ok {
		m.log = append(m.log, add...)
		m.compose()
	}
	return m, nil
}

// fedLog is a feedLog the loop feeds (Feed).
type fedLog struct{ *feedLog }

func (m fedLog) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := m.feedLog.Update(msg)
	return m, cmd
}

func (m fedLog) Ready() <-chan struct{} { return m.ready }

func (m fedLog) Take() tea.Msg {
	m.qmu.Lock()
	defer m.qmu.Unlock()
	if len(m.queue) == 0 {
		return nil
	}
	add := addLines(m.queue)
	m.queue = nil
	return add
}

// push hands the program a new line, by Feed or by Send.
func (m *feedLog) push(p *Program, fed bool, line string) {
	if !fed {
		p.Send(addLines{line})
		return
	}
	m.qmu.Lock()
	m.queue = append(m.queue, line)
	m.qmu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// runLog runs a log model (a member column beside it, as parley's) on out.
func runLog(t *testing.T, out io.Writer, fed bool) (*feedLog, *Program) {
	t.Helper()
	return runLogWith(t, out, fed, Options{})
}

// runLogWith is runLog with options (Input, Output and the size are set).
func runLogWith(t *testing.T, out io.Writer, fed bool, opts Options) (*feedLog, *Program) {
	t.Helper()
	m := &feedLog{logModel: newLog(60, 12, true), ready: make(chan struct{}, 1)}
	var model tea.Model = m
	if fed {
		model = fedLog{m}
	}
	opts.Output, opts.Input, opts.Width, opts.Height = out, strings.NewReader(""), 60, 12
	p := New(model, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("the program did not end")
		}
	})
	return m, p
}

// TestMessagesThatArriveWhileAFrameIsWrittenShareTheNextFrame: while a
// screen's frame is still being written (a client slow to read, or a
// server busy with thousands of screens), the messages that arrive are
// not drawn one frame each once the writer frees: they are drawn
// together, one scroll of several rows, and the screen ends up exactly as
// the screen of a receiver that drew them one by one. Through Send and
// through Feed (how parley's chat model is fed).
func TestMessagesThatArriveWhileAFrameIsWrittenShareTheNextFrame(t *testing.T) {
	const n = 8
	text := func(i int) string { return fmt.Sprintf("\x1b[35mann\x1b[m message %d", i) }
	for _, fed := range []bool{false, true} {
		t.Run(fmt.Sprintf("fed=%v", fed), func(t *testing.T) {
			// One by one: each message on the screen before the next is sent.
			one := newTerm(60, 12)
			m1, p1 := runLog(t, one, fed)
			one.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "old line 19") })
			for i := range n {
				m1.push(p1, fed, text(i))
				want := fmt.Sprintf("ann message %d", i)
				one.waitFor(t, want, func(s string) bool { return strings.Contains(s, want) })
			}

			// A burst behind a busy writer.
			slow := &slowTerm{term: newTerm(60, 12), blocked: make(chan struct{}, 1)}
			m2, p2 := runLog(t, slow, fed)
			slow.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "old line 19") })
			slow.hold()
			m2.push(p2, fed, text(0))
			select {
			case <-slow.blocked: // the frame with message 0 is being written
			case <-time.After(waitTimeout):
				t.Fatal("the first message's frame was never written")
			}
			before := slow.count()
			for i := 1; i < n; i++ {
				m2.push(p2, fed, text(i))
			}
			slow.release()
			last := fmt.Sprintf("ann message %d", n-1)
			slow.waitFor(t, last, func(s string) bool { return strings.Contains(s, last) })
			if frames := slow.count() - before; frames > 1 {
				t.Errorf("%d messages that arrived during one write took %d frames after it, want 1", n-1, frames)
			}
			if got, want := slow.screen(), one.screen(); got != want {
				t.Errorf("the burst's screen:\n%s\nmessage by message:\n%s", got, want)
			}
			if out := slow.output(); !strings.Contains(out, fmt.Sprintf("\x1b[2;11r\x1b[%dS", n-1)) {
				t.Errorf("the burst was not one scroll of %d rows:\n%q", n-1, out)
			}
		})
	}
}

// TestAFedMessageAfterAQuietSpellIsDrawnAtOnce: coalescing never holds
// back the first messages after a quiet spell, however long the frame
// interval: with an interval of an hour, a chat's messages reach the
// screen as they arrive, up to the burst credit.
func TestAFedMessageAfterAQuietSpellIsDrawnAtOnce(t *testing.T) {
	term := newTerm(60, 12)
	m, p := runLogWith(t, term, true, Options{MinFrameInterval: time.Hour})
	term.waitFor(t, "the first frame", func(s string) bool { return strings.Contains(s, "old line 19") })
	for i := range FrameBurst {
		want := fmt.Sprintf("after quiet %d", i)
		began := time.Now()
		m.push(p, true, want)
		term.waitFor(t, want, func(s string) bool { return strings.Contains(s, want) })
		if d := time.Since(began); d > waitTimeout/2 {
			t.Errorf("message %d took %v to reach the screen", i, d)
		}
	}
}
