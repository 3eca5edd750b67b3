package tui

import (
	"fmt"
	"testing"
	"time"

	"parley/room"
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
		e := entry{msg: msg}
		m.renderEntry(&e, 100)
	}
}

// BenchmarkView draws a whole screen of a room with 200 people, with
// nothing new (what an idle frame would cost) and after one new message
// (what each message costs each screen).
func BenchmarkView(b *testing.B) {
	for _, w := range []int{40, 100, 250} {
		b.Run(fmt.Sprintf("unchanged/%dcols", w), func(b *testing.B) {
			m := newModel(busyRoom(200), w, 40)
			m.View()
			b.ReportAllocs()
			for b.Loop() {
				m.View()
			}
		})
		b.Run(fmt.Sprintf("newMessage/%dcols", w), func(b *testing.B) {
			m := newModel(busyRoom(200), w, 40)
			m.View()
			seq := uint64(101)
			b.ReportAllocs()
			for b.Loop() {
				m.Update(eventsMsg{msgs: []room.Message{chatMsg(seq, int(seq))}})
				m.View()
				seq++
			}
		})
	}
}
