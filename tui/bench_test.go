package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"parley/room"
	"parley/safetext"
)

// busyRoom is a fake session in a room of people members with a backlog of
// 100 messages.
func busyRoom(people int) *fakeSession {
	f := newFake()
	f.members = nil
	for i := 0; i < people; i++ {
		f.members = append(f.members, room.MemberInfo{ID: fmt.Sprintf("id-%d", i), Name: fmt.Sprintf("person%03d", i), LastActive: t0})
	}
	for i := 1; i <= 100; i++ {
		f.backlog = append(f.backlog, chatMsg(uint64(i), i))
	}
	return f
}

func chatMsg(seq uint64, i int) room.Message {
	return room.Message{Seq: seq, Time: t0.Add(time.Duration(i) * time.Second), Room: "lobby", Kind: room.KindChat,
		From: fmt.Sprintf("person%03d", i%50), FromID: fmt.Sprintf("id-%d", i%50),
		Text: fmt.Sprintf("message %d: a line of chat of an ordinary length, long enough to wrap on a narrow screen", i)}
}

// BenchmarkRenderLine renders one message line (the cost paid once per
// message per screen width and theme).
func BenchmarkRenderLine(b *testing.B) {
	m := newModel(busyRoom(10), 100, 30)
	msg := chatMsg(1, 1)
	b.ReportAllocs()
	for b.Loop() {
		e := entry{msg: &msg}
		m.renderEntry(&e, 100)
	}
}

// BenchmarkView draws a whole screen of a room with 200 people, with
// nothing new (what an idle frame would cost) and after one new message
// (what each message costs each screen).
func BenchmarkView(b *testing.B) {
	// "view" is View (one string); "rows" is ViewRows, what the screen
	// calls: the frame's rows in parts, into slices it reuses.
	views := map[string]func(m *Model, left, right []string){
		"view": func(m *Model, _, _ []string) { m.View() },
		"rows": func(m *Model, left, right []string) { m.ViewRows(left, right) },
	}
	for _, kind := range []string{"view", "rows"} {
		view := views[kind]
		for _, w := range []int{40, 100, 250} {
			left, right := make([]string, 40), make([]string, 40)
			b.Run(fmt.Sprintf("%s/unchanged/%dcols", kind, w), func(b *testing.B) {
				m := newModel(busyRoom(200), w, 40)
				view(m, left, right)
				b.ReportAllocs()
				for b.Loop() {
					view(m, left, right)
				}
			})
			b.Run(fmt.Sprintf("%s/newMessage/%dcols", kind, w), func(b *testing.B) {
				m := newModel(busyRoom(200), w, 40)
				view(m, left, right)
				seq := uint64(101)
				b.ReportAllocs()
				for b.Loop() {
					m.Update(eventsMsg{msgs: []room.Message{chatMsg(seq, int(seq))}})
					view(m, left, right)
					seq++
				}
			})
		}
	}
}

// FuzzRenderMessage: any text, as the room hands it over (sanitised),
// renders in lines no wider than the screen, in valid UTF-8, with no
// control character outside the renderer's own SGR styles.
func FuzzRenderMessage(f *testing.F) {
	f.Add("hello world", "alice", 40)
	f.Add("日本語のテキスト and a long word: supercalifragilisticexpialidocious", "bob", 12)
	f.Add("\x1b]52;c;ZXZpbA==\x07 osc \u202e bidi \x9b2J", "mallory", 30)
	f.Add(strings.Repeat("wide 👍🏽 ", 50), "😀", 5)
	f.Fuzz(func(t *testing.T, text, from string, width int) {
		width = 1 + abs(width)%300
		clean, _ := safetext.Message(text)
		name := safetext.Line(from, 32)
		m := newModel(busyRoom(3), 80, 24)
		for _, kind := range []room.Kind{room.KindChat, room.KindEmote, room.KindNotice, room.KindLeave} {
			e := entry{msg: &room.Message{Seq: 1, Time: t0, Room: "lobby", Kind: kind, From: name, FromID: "id-x", Text: clean}}
			for _, line := range m.renderEntry(&e, width) {
				if !utf8.ValidString(line) {
					t.Fatalf("invalid UTF-8: %q", line)
				}
				plain := ansi.Strip(line)
				for _, r := range plain {
					if r < 0x20 || r >= 0x7f && r < 0xa0 {
						t.Fatalf("control %U in %q", r, plain)
					}
				}
				if w := ansi.StringWidth(line); w > width {
					t.Fatalf("line %q is %d cells wide, screen %d", plain, w, width)
				}
			}
		}
	})
}
