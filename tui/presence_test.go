package tui

import (
	"strings"
	"testing"
	"time"

	"parley/room"
)

// Issue 13 item 7: a phone coming back sees what was said, not a screen of
// joins and leaves: runs of them in the backlog fold into one line.
func TestBacklogFoldsRunsOfJoinsAndLeaves(t *testing.T) {
	f := newFake()
	seq := uint64(0)
	at := t0
	msg := func(kind room.Kind, from, text string) room.Message {
		seq++
		at = at.Add(30 * time.Second)
		return room.Message{Seq: seq, Time: at, Room: "lobby", Kind: kind, From: from, FromID: "id-" + from, Text: text}
	}
	f.backlog = append(f.backlog, msg(room.KindChat, "bob", "the build is red"))
	for range 10 { // carol's phone, on a train
		f.backlog = append(f.backlog, msg(room.KindLeave, "carol", ""), msg(room.KindJoin, "carol", ""))
	}
	f.backlog = append(f.backlog, msg(room.KindJoin, "dan", ""), msg(room.KindJoin, "erin", ""), msg(room.KindLeave, "erin", ""),
		msg(room.KindLeave, "bob", ""), msg(room.KindLeave, "frank", "kicked by alice: spam"), msg(room.KindJoin, "bob", ""),
		msg(room.KindChat, "bob", "green again"))
	m := newModel(f, 40, 15)
	all := strings.Join(screen(m), "\n")
	presence := 0
	for _, row := range screen(m) {
		if strings.Contains(row, "joined") || strings.Contains(row, "left") || strings.Contains(row, "reconnected") || strings.Contains(row, "came and went") {
			presence++
		}
	}
	// 24 lines of joins and leaves were; now one folded line (wrapped at 40
	// columns), the kick with its reason, and bob's rejoin after it.
	if !strings.Contains(all, "the build is red") || !strings.Contains(all, "green again") {
		t.Errorf("what was said is not on the screen:\n%s", all)
	}
	for _, want := range []string{"dan joined #lobby", "carol reconnected", "erin came", "frank left (kicked by alice: spam)"} {
		if !strings.Contains(strings.Join(strings.Fields(all), " "), want) {
			t.Errorf("no %q:\n%s", want, all)
		}
	}
	if presence > 6 {
		t.Errorf("%d rows of joins and leaves:\n%s", presence, all)
	}
	// Live, a join still gets its own line, even right after a folded
	// run.
	m.Update(eventsMsg{msgs: []room.Message{msg(room.KindJoin, "gina", "")}})
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "gina joined #lobby") {
		t.Errorf("a live join:\n%s", all)
	}
	f.backlog = []room.Message{msg(room.KindJoin, "hal", ""), msg(room.KindJoin, "ivy", "")}
	m = newModel(f, 40, 15)
	m.Update(eventsMsg{msgs: []room.Message{msg(room.KindJoin, "jo", "")}})
	if all := strings.Join(screen(m), "\n"); !strings.Contains(all, "hal and ivy joined") || !strings.Contains(all, "jo joined #lobby") {
		t.Errorf("a live join after a folded run:\n%s", all)
	}
}
