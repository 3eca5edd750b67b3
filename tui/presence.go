package tui

import (
	"fmt"
	"strings"
	"time"

	"parley/room"
)

// What a screen shows of the conversation it missed (the backlog when it
// connects or enters a room, and older pages) keeps what was said and
// folds the comings and goings between: a run of join and leave lines
// becomes one line that says who arrived, who left, who came and went and
// who reconnected. A phone that reconnects ten times while others chat
// would otherwise come back to a screen of its own joins and leaves. Live
// join and leave lines are shown as they happen (add coalesces only joins
// with joins and leaves with leaves); the history keeps every one.

// collapseGap is how far apart two join or leave lines may be and still be
// folded into one.
const collapseGap = 10 * time.Minute

// visit is what one identity did in a folded run of joins and leaves.
type visit struct {
	name, id    string
	first, last room.Kind // KindJoin or KindLeave
}

// visitable reports whether msg may be folded with others: a join or a
// leave of one person, with no reason (a kick or a ban is worth its line).
func visitable(msg *room.Message) bool {
	return (msg.Kind == room.KindJoin || msg.Kind == room.KindLeave) && msg.From != "" && msg.Text == ""
}

// collapse turns missed messages into entries, folding runs of two or
// more joins and leaves (see above).
func collapse(msgs []room.Message) []entry {
	out := make([]entry, 0, len(msgs))
	for i := 0; i < len(msgs); {
		j := i + 1
		if visitable(&msgs[i]) {
			for j < len(msgs) && visitable(&msgs[j]) && msgs[j].Time.Sub(msgs[j-1].Time) < collapseGap {
				j++
			}
		}
		if j-i < 2 {
			out = append(out, entry{msg: &msgs[i]})
			i = j
			continue
		}
		var vs []visit
		at := map[string]int{}
		for k := i; k < j; k++ {
			m := &msgs[k]
			if n, ok := at[m.FromID]; ok {
				vs[n].last, vs[n].name = m.Kind, m.From
				continue
			}
			at[m.FromID] = len(vs)
			vs = append(vs, visit{name: m.From, id: m.FromID, first: m.Kind, last: m.Kind})
		}
		out = append(out, entry{msg: &msgs[i], visits: vs}) // the oldest: its Seq (paging back) and time
		i = j
	}
	return out
}

// visitsText says what a folded run shows: "alice and bob joined #lobby",
// "carol left", or several of "… joined #lobby; carol reconnected; dave
// came and went; erin left", and the prefix to show it with.
func visitsText(vs []visit, roomName string) (prefix, text string) {
	var joined, left, back, brief []string
	for _, v := range vs {
		switch {
		case v.first == room.KindJoin && v.last == room.KindJoin:
			joined = append(joined, v.name)
		case v.first == room.KindLeave && v.last == room.KindLeave:
			left = append(left, v.name)
		case v.first == room.KindLeave:
			back = append(back, v.name)
		default:
			brief = append(brief, v.name)
		}
	}
	var parts []string
	if len(joined) > 0 {
		parts = append(parts, names(joined)+" joined #"+roomName)
	}
	if len(back) > 0 {
		parts = append(parts, names(back)+" reconnected")
	}
	if len(brief) > 0 {
		parts = append(parts, names(brief)+" came and went")
	}
	if len(left) > 0 {
		parts = append(parts, names(left)+" left")
	}
	switch {
	case len(parts) == 1 && len(joined) > 0:
		prefix = "→ "
	case len(parts) == 1 && len(left) > 0:
		prefix = "← "
	default:
		prefix = "↔ "
	}
	return prefix, strings.Join(parts, "; ")
}

// names is "alice", "alice and bob", "alice, bob and carol", "alice, bob,
// carol and 12 others".
func names(ns []string) string {
	switch n := len(ns); {
	case n == 1:
		return ns[0]
	case n <= 4:
		return strings.Join(ns[:n-1], ", ") + " and " + ns[n-1]
	default:
		return strings.Join(ns[:3], ", ") + fmt.Sprintf(" and %d others", n-3)
	}
}
