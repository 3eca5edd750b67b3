package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"parley/room"
	"parley/safetext"
	term "parley/screen"
)

// Session is what the model needs of a room session.
type Session interface {
	Events() <-chan room.Message
	Backlog() []room.Message
	Send(ctx context.Context, text string) error
	ID() string
	Name() string
	Room() string
	Topic() string
	Reason() string
	Members() []room.MemberInfo
	Commands() []room.Command
	Rooms() []room.RoomInfo
	RoomBacklog(name string) []room.Message
	Switch(name string) error
	Settings() map[string]string
	SetSetting(key, value string)
	ReadMark(room string) uint64
	Older(ctx context.Context, room string, before uint64, n int) ([]room.Message, error)
}

var _ Session = (*room.Session)(nil)

// Limits of the model.
const (
	// keepEntries is how many messages a screen keeps for scrolling back
	// (older ones are fetched again from the room's history on PgUp). A
	// view trims itself only once it holds half as many again, so trimming
	// costs nothing per message.
	keepEntries = 300
	// sideWidth is the member list's width on wide screens.
	sideWidth = 22
	// wideAt is the width from which the member list is shown.
	wideAt = 80
	// maxInputLines is the input box's tallest size.
	maxInputLines = 5
)

// Options configure a Model.
type Options struct {
	// Env is the client's environment (TZ is honoured).
	Env []string
	// Width and Height are the initial window size.
	Width, Height int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Fed says the runtime calls Ready and Take (the screen package's
	// Feed) to hand the session's messages over: no goroutine waits on the
	// session. The session must then have Ready and TryReceive.
	Fed bool
}

// Model is the Bubble Tea model of one session.
type Model struct {
	sess Session
	feed feeder // the session, when the runtime feeds its messages (Options.Fed)
	// taken is Take's slice, reused from one Take to the next (the loop
	// that calls Take hands what it returns to Update before it calls
	// Take again, and Update keeps the messages, not the slice).
	taken []*room.Message
	// takenMsg is what Take hands over, by pointer: boxing an eventsMsg
	// in a tea.Msg allocated once per delivery.
	takenMsg eventsMsg
	ctx      context.Context
	cancel   context.CancelFunc
	now      func() time.Time
	loc      *time.Location
	st       *styles // shared by every screen in the theme (stylesFor)

	width, height int
	input         input
	views         map[string]*view // by room name
	cur           *view            // the room shown
	members       []room.MemberInfo
	side          sideCache // the member list as last drawn
	margins       bool      // the terminal has left/right margins (screen.MarginsMsg)
	quiet         quietSide // the member column as a count, as last drawn (render.go)
	headerFor     headerKey // what headerDrawn shows
	lastRows      int       // rows in the last frame (fillRows)
	blankRow      string    // a blank conversation row, for rows beside the member list
	title         string    // the window title, for titleFor
	titleFor      string
	lazy          bool // the last Update brought only others' joins and leaves
	headerDrawn   string
	band          [3]int // the conversation's rows and width in the last View: see Band
	topic         string
	name          string

	pending []string // typed lines waiting to be sent, in order
	sending bool
	ended   bool

	timeFormat  string // "" hides times
	bell        string // BellOff, BellMentions, BellOn
	themeChosen bool   // set by /theme: the terminal's background no longer decides
	overlay     string // the help text while it is shown
	overlayTop  int    // first overlay line shown

	history    []string // sent lines, oldest first
	histPos    int      // -1 when not recalling
	draft      string   // what was typed before recalling
	completing []string // Tab candidates, while cycling
	compIdx    int
	compBase   string // the input before the completed word
	completed  string // the input as the last completion left it
}

// New builds the model for sess.
func New(sess Session, opt Options) *Model {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{
		sess: sess, ctx: ctx, cancel: cancel, now: opt.Now, loc: time.UTC, st: stylesFor(ThemeDark),
		width: opt.Width, height: opt.Height, timeFormat: "15:04", bell: BellMentions, histPos: -1,
	}
	if f, ok := sess.(feeder); ok && opt.Fed {
		m.feed = f
	}
	for _, kv := range opt.Env {
		if tz, ok := strings.CutPrefix(kv, "TZ="); ok {
			if loc, err := loadZone(tz); err == nil {
				m.loc = loc
			}
		}
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" {
			m.st, m.themeChosen = stylesFor(ThemeMono), true
		}
	}
	in := newInput("> ", "Type a message, /help for commands", maxInputLines, safetext.MaxMessageRunes*2)
	m.input = in
	m.styleInput()
	m.views = make(map[string]*view)
	m.cur = m.view(sess.Room())
	m.cur.load(sess.Backlog())
	m.cur.markUnread(sess.ReadMark(sess.Room()), sess.ID())
	m.applySettings(sess.Settings())
	m.refresh()
	m.layout()
	return m
}

// eventsMsg carries messages from the session, in order.
type eventsMsg struct {
	msgs   []room.Message
	shared []*room.Message // instead of msgs: the room's own, shared with other screens
	ended  bool
}

// sentMsg reports the outcome of one Send.
type sentMsg struct{ err error }

// receiver is how waitEvents reads a session: room.Session.Receive.
type receiver interface {
	Receive(dst []room.Message, max int) ([]room.Message, bool)
}

// feeder is a session the runtime can wait on (Options.Fed).
type feeder interface {
	Ready() <-chan struct{}
	TryReceive(dst []room.Message, max int) ([]room.Message, bool)
}

// sharedFeeder is a feeder that can hand over the messages themselves,
// shared with every screen that shows them, instead of a copy each.
type sharedFeeder interface {
	TryReceiveShared(dst []*room.Message, max int) ([]*room.Message, bool)
}

// Ready is signalled when the session may have messages for Take; nil
// unless Options.Fed.
func (m *Model) Ready() <-chan struct{} {
	if m.feed == nil || m.ended {
		return nil // nothing more will come
	}
	return m.feed.Ready()
}

// maxKeptTake is the largest batch whose slice Take keeps for the next.
const maxKeptTake = 64

// Take returns what the session has queued as one message for Update, or
// nil when nothing is; it never waits. What it returns must go to Update
// before Take is called again: the slice of messages is reused.
func (m *Model) Take() tea.Msg {
	if m.feed == nil || m.ended {
		return nil
	}
	if sf, ok := m.feed.(sharedFeeder); ok {
		if cap(m.taken) > maxKeptTake {
			m.taken = nil // a burst's array is not kept by an idle screen
		}
		clear(m.taken[:cap(m.taken)]) // the last batch's messages are not held here
		msgs, ok := sf.TryReceiveShared(m.taken[:0], 512)
		m.taken = msgs
		switch {
		case !ok:
			return eventsMsg{ended: true}
		case len(msgs) == 0:
			return nil
		}
		m.takenMsg = eventsMsg{shared: msgs}
		return &m.takenMsg
	}
	msgs, ok := m.feed.TryReceive(nil, 512)
	switch {
	case !ok:
		return eventsMsg{ended: true}
	case len(msgs) == 0:
		return nil
	}
	return eventsMsg{msgs: msgs}
}

// next is the command that brings the session's next messages: none when
// the runtime feeds them (Options.Fed).
func (m *Model) next() tea.Cmd {
	if m.feed != nil {
		return nil
	}
	return waitEvents(m.sess)
}

// waitEvents returns a command that waits for the session's next messages
// and takes everything already queued with it (up to 512), so a burst
// becomes one frame. A session without Receive (a test's fake) is read from
// its Events channel.
func waitEvents(sess Session) tea.Cmd {
	r, ok := sess.(receiver)
	if !ok {
		r = chanReceiver(sess.Events())
	}
	return func() tea.Msg {
		msgs, ok := r.Receive(nil, 512)
		if !ok {
			return eventsMsg{ended: true}
		}
		return eventsMsg{msgs: msgs}
	}
}

// chanReceiver reads a channel of messages as Receive would.
type chanReceiver <-chan room.Message

// Receive waits for the channel's next message and takes what else is
// already there, up to max.
func (ch chanReceiver) Receive(dst []room.Message, max int) ([]room.Message, bool) {
	dst = dst[:0]
	first, ok := <-ch
	if !ok {
		return dst, false
	}
	dst = append(dst, first)
	for len(dst) < max {
		select {
		case m, ok := <-ch:
			if !ok {
				return dst, true
			}
			dst = append(dst, m)
		default:
			return dst, true
		}
	}
	return dst, true
}

// Init starts listening to the session and asks the terminal for its
// background colour, to pick the theme (dark when it never answers).
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.next(), tea.RequestBackgroundColor)
}

// setTheme switches styles and re-renders everything.
func (m *Model) setTheme(theme string) {
	m.st = stylesFor(theme)
	m.styleInput()
	m.invalidate()
}

func (m *Model) styleInput() {
	m.input.setStyles(&m.st.prompt, &m.st.dim)
}

// invalidate drops every rendered line, after a change of how they look.
func (m *Model) invalidate() {
	for _, v := range m.views {
		for i := range v.entries {
			v.entries[i].lines = nil
		}
	}
}

// Lazy reports whether the last Update only brought other people's joins,
// leaves and away marks: the runtime may draw it a little later
// (screen.Lazy), so a crowd arriving at once costs each screen a few
// frames, not one per arrival.
func (m *Model) Lazy() bool { return m.lazy }

// Update handles one message: a key, a paste, the window's size, the
// terminal's background colour, or what the session delivered.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg.(type) {
	case eventsMsg, *eventsMsg:
	default:
		m.lazy = false
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case term.MarginsMsg:
		m.margins = true
		return m, nil
	case tea.BackgroundColorMsg:
		if !m.themeChosen {
			if msg.IsDark() {
				m.setTheme(ThemeDark)
			} else {
				m.setTheme(ThemeLight)
			}
		}
		return m, nil
	case eventsMsg:
		return m, m.onEvents(msg)
	case *eventsMsg: // Take's
		ev := *msg
		*msg = eventsMsg{} // holds no messages once handed over
		return m, m.onEvents(ev)
	case olderMsg:
		m.onOlder(msg)
		return m, nil
	case sentMsg:
		m.sending = false
		if msg.err != nil {
			m.addLocal(room.KindError, room.UserMessage(nil, msg.err))
		}
		// A /join of a room this screen already holds switches to it with
		// nothing to load (a room new here arrives with a KindEnter).
		if r := m.sess.Room(); r != m.cur.name && m.views[r] != nil {
			m.show(r)
		}
		return m, m.sendNext()
	case tea.PasteMsg:
		clean, cut := safetext.Message(msg.Content)
		if cut {
			m.addLocal(room.KindNotice, fmt.Sprintf("The pasted text was cut to %d characters and %d lines.", safetext.MaxMessageRunes, safetext.MaxMessageLines))
		}
		m.input.InsertString(clean)
		m.layout()
		return m, nil
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	}
	return m, nil
}

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	if m.overlay != "" { // scroll keys move the help; any other key closes it
		switch k.String() {
		case "up", "k":
			m.overlayTop = max(m.overlayTop-1, 0)
		case "down", "j":
			m.overlayTop++
		case "pgup":
			m.overlayTop = max(m.overlayTop-m.pageLines(), 0)
		case "pgdown", "space":
			m.overlayTop += m.pageLines()
		default:
			m.overlay = ""
		}
		return nil
	}
	key := k.String()
	if key != "tab" {
		m.completing = nil
	}
	switch key {
	case "ctrl+c", "ctrl+d":
		if key == "ctrl+d" && m.input.Value() != "" {
			break
		}
		return m.submit("/quit")
	case "enter":
		text := m.input.Value()
		m.input.Reset()
		m.layout()
		if strings.TrimSpace(text) == "" {
			return nil
		}
		m.remember(text)
		return m.enter(text)
	case "tab":
		m.complete()
		return nil
	case "up", "down":
		dir := -1
		if key == "down" {
			dir = 1
		}
		if m.recall(dir) {
			m.layout()
			return nil
		}
	case "ctrl+o":
		m.expandNewest()
		return nil
	case "ctrl+n":
		m.switchRoom(1, 0)
		return nil
	case "ctrl+p":
		m.switchRoom(-1, 0)
		return nil
	case "alt+1", "alt+2", "alt+3", "alt+4", "alt+5", "alt+6", "alt+7", "alt+8", "alt+9":
		m.switchRoom(0, int(key[len(key)-1]-'1'))
		return nil
	case "pgup":
		m.scrollBy(m.pageLines())
		return m.loadOlder()
	case "pgdown":
		m.scrollBy(-m.pageLines())
		return nil
	case "home", "end":
		if m.input.Value() == "" {
			if key == "home" {
				m.scrollBy(1 << 30)
				return m.loadOlder()
			} else {
				m.scrollBy(-m.cur.scroll)
			}
			return nil
		}
	}
	m.input.Update(k)
	m.layout()
	return nil
}

// enter handles a line the person entered: the screen's own commands and
// /help here, everything else to the room.
func (m *Model) enter(text string) tea.Cmd {
	if name, args, ok := room.ParseCommand(text); ok {
		if name == "help" {
			m.overlay, m.overlayTop = m.helpText(), 0
			return nil
		}
		if c := findLocal(name); c != nil {
			return c.run(m, args)
		}
	}
	return m.submit(text)
}

// submit queues text to be sent after what is already being sent, so a
// person's lines arrive in the order typed.
func (m *Model) submit(text string) tea.Cmd {
	m.cur.scroll, m.cur.unseen = 0, 0
	if len(m.pending) >= 32 {
		m.addLocal(room.KindError, "Too many messages waiting to be sent; this one was dropped.")
		return nil
	}
	m.pending = append(m.pending, text)
	return m.sendNext()
}

func (m *Model) sendNext() tea.Cmd {
	if m.sending || len(m.pending) == 0 {
		return nil
	}
	text := m.pending[0]
	m.pending = m.pending[1:]
	m.sending = true
	sess, ctx := m.sess, m.ctx
	return func() tea.Msg { return sentMsg{err: sess.Send(ctx, text)} }
}

func (m *Model) onEvents(ev eventsMsg) tea.Cmd {
	refresh, ring := false, false
	m.lazy = !ev.ended
	msgs := ev.shared
	if msgs == nil {
		msgs = make([]*room.Message, len(ev.msgs))
		for i := range ev.msgs {
			msgs[i] = &ev.msgs[i]
		}
	}
	for _, msg := range msgs { // entries point to these: no copy per screen
		if msg.Kind != room.KindJoin && msg.Kind != room.KindLeave && msg.Kind != room.KindPresence || msg.FromID == m.sess.ID() {
			m.lazy = false
		}
		switch msg.Kind {
		case room.KindEnter:
			m.view(msg.Room).load(m.sess.RoomBacklog(msg.Room))
			if m.sess.Room() == msg.Room { // entered from this screen
				m.show(msg.Room)
			}
			continue
		case room.KindLeave:
			if msg.FromID == m.sess.ID() && msg.Seq == 0 {
				// This person left the room (maybe from another screen,
				// or on another node): the hub tells each screen directly,
				// unnumbered. A numbered leave line of their own comes from
				// another node (their sessions there ended) and is only a
				// line; a second notice never makes the room's view again.
				if m.views[msg.Room] != nil {
					delete(m.views, msg.Room)
					if m.cur.name == msg.Room {
						m.show(m.sess.Room())
					}
				}
				continue
			}
			refresh = true
		case room.KindJoin, room.KindNick, room.KindTopic:
			refresh = true
		case room.KindPresence: // someone went away or came back: the list only
			refresh = true
			continue
		case room.KindChat, room.KindEmote:
			// The list shows them idle: it is stale now (the hub built a
			// new one when they spoke).
			refresh = refresh || m.shownIdle(msg.FromID)
		}
		ring = ring || m.rings(msg)
		v := m.cur
		if msg.Room != "" {
			v = m.view(msg.Room)
		}
		v.add(msg, v != m.cur)
	}
	if refresh {
		m.refresh()
	}
	if ev.ended {
		m.ended = true
		m.cancel()
		// The transport prints the reason on the normal screen, where it
		// stays readable after the alt screen is gone.
		return tea.Quit
	}
	if ring {
		return tea.Batch(m.next(), tea.Raw("\a"))
	}
	return m.next()
}

// rings reports whether msg should ring the bell in the current bell mode.
func (m *Model) rings(msg *room.Message) bool {
	if msg.FromID == "" || msg.FromID == m.sess.ID() {
		return false
	}
	switch m.bell {
	case BellOn:
		return msg.Kind == room.KindChat || msg.Kind == room.KindEmote || msg.Kind == room.KindPrivate
	case BellMentions:
		return msg.Kind == room.KindPrivate || m.mentions(msg)
	}
	return false
}

// addLocal shows a line that only exists on this screen.
func (m *Model) addLocal(kind room.Kind, text string) {
	m.cur.add(&room.Message{Time: m.now(), Kind: kind, Text: text}, false)
}

// view is one room as this screen shows it.
type view struct {
	name      string
	entries   []entry
	scroll    int  // lines scrolled up from the newest
	unseen    int  // messages arrived while scrolled up
	unread    int  // messages arrived while another room was shown
	loading   bool // older messages are being fetched
	exhausted bool // there are no older messages
}

// kindUnread is a screen-only entry: the line between what the person had
// read when they left and what came since.
const kindUnread room.Kind = 200

// markUnread puts the unread line before the first message after mark
// that someone else wrote (your own leave is not news to you).
func (v *view) markUnread(mark uint64, me string) {
	if mark == 0 {
		return
	}
	for i, e := range v.entries {
		if e.msg.Seq > mark && e.msg.FromID != me {
			text := "new since you were last here"
			if i == 0 {
				text = "new since you were last here (and older, PgUp)"
			}
			line := entry{msg: &room.Message{Kind: kindUnread, Text: text}}
			v.entries = append(v.entries[:i], append([]entry{line}, v.entries[i:]...)...)
			return
		}
	}
}

// oldestSeq returns the smallest room sequence number the view holds.
func (v *view) oldestSeq() uint64 {
	for _, e := range v.entries {
		if e.msg.Seq > 0 && e.msg.Room != "" {
			return e.msg.Seq
		}
	}
	return 0
}

// olderMsg carries a page of older messages for a view.
type olderMsg struct {
	room string
	msgs []room.Message
	err  error
}

// olderPage is how many messages one scroll past the top fetches.
const olderPage = 100

// loadOlder fetches the page before the oldest message of the shown room,
// in the background, when the view is scrolled to its top.
func (m *Model) loadOlder() tea.Cmd {
	v := m.cur
	if v.loading || v.exhausted || !m.atTop() {
		return nil
	}
	oldest := v.oldestSeq()
	if oldest <= 1 {
		v.exhausted = true
		return nil
	}
	v.loading = true
	sess, ctx, name := m.sess, m.ctx, v.name
	return func() tea.Msg {
		msgs, err := sess.Older(ctx, name, oldest, olderPage)
		return olderMsg{room: name, msgs: msgs, err: err}
	}
}

// atTop reports whether the shown view is scrolled to its oldest line.
func (m *Model) atTop() bool {
	total := 0
	w := m.chatWidth()
	for i := range m.cur.entries {
		e := &m.cur.entries[i]
		if e.width != w || e.lines == nil {
			e.lines, e.width = m.entryLines(e, w), w
		}
		total += len(e.lines)
	}
	return m.cur.scroll >= total-m.chatHeight()
}

func (m *Model) onOlder(msg olderMsg) {
	v := m.views[msg.room]
	if v == nil {
		return
	}
	v.loading = false
	if msg.err != nil {
		m.addLocal(room.KindError, "could not load older messages; try again")
		return
	}
	oldest := v.oldestSeq()
	n := 0
	for n < len(msg.msgs) && msg.msgs[n].Seq < oldest {
		n++
	}
	page := collapse(msg.msgs[:n]) // oldest first, like the view
	if len(page) == 0 {
		v.exhausted = true
		return
	}
	v.entries = append(page, v.entries...)
}

// applySettings restores what the person chose in earlier sessions.
func (m *Model) applySettings(set map[string]string) {
	if t := set["theme"]; t == ThemeDark || t == ThemeLight || t == ThemeMono {
		m.themeChosen = true
		m.setTheme(t)
	}
	if b := set["bell"]; b == BellOn || b == BellOff || b == BellMentions {
		m.bell = b
	}
	if f, ok := timeFormats[set["timestamps"]]; ok {
		m.timeFormat = f
		m.invalidate()
	}
	if tz := set["tz"]; tz != "" {
		if loc, err := loadZone(tz); err == nil {
			m.loc = loc
			m.invalidate()
		}
	}
}

// view returns the view of a room, creating it.
func (m *Model) view(name string) *view {
	v := m.views[name]
	if v == nil {
		v = &view{name: name}
		m.views[name] = v
	}
	return v
}

// load replaces the view's messages with a room's backlog.
func (v *view) load(backlog []room.Message) {
	// Shared with others who entered: pointers, not copies; runs of joins
	// and leaves folded (presence.go).
	v.entries = append(v.entries[:0], collapse(backlog)...)
	v.scroll, v.unseen, v.unread = 0, 0, 0
}

// coalesceWithin is how close in time joins (or leaves) must be to share
// one line, so that many people arriving at once do not flood the screen.
const coalesceWithin = 2 * time.Minute

// add appends a message; hidden says the view is not on screen.
func (v *view) add(msg *room.Message, hidden bool) {
	if n := len(v.entries); n > 0 && (msg.Kind == room.KindJoin || msg.Kind == room.KindLeave) && msg.Text == "" {
		last := &v.entries[n-1]
		if last.visits == nil && last.msg.Kind == msg.Kind && last.msg.Room == msg.Room && last.msg.Text == "" && msg.Time.Sub(last.msg.Time) < coalesceWithin {
			last.others = append(last.others, msg.From)
			last.lines = nil // re-render
			return
		}
	}
	v.entries = append(v.entries, entry{msg: msg})
	if over := len(v.entries) - keepEntries; over > keepEntries/2 {
		v.entries = append(v.entries[:0:0], v.entries[over:]...)
	}
	if v.scroll > 0 {
		v.unseen++
	}
	if hidden && (msg.Kind == room.KindChat || msg.Kind == room.KindEmote) {
		v.unread++
	}
}

// show switches the screen to a room's view.
func (m *Model) show(name string) {
	m.cur = m.view(name)
	m.cur.unread = 0
	m.refresh()
}

// switchRoom moves this session to the room delta places away in the
// sorted list of its rooms (or to index when delta is 0).
func (m *Model) switchRoom(delta, index int) {
	rooms := m.sess.Rooms()
	if len(rooms) < 2 {
		return
	}
	i := index
	if delta != 0 {
		for j, r := range rooms {
			if r.Name == m.cur.name {
				i = (j + delta + len(rooms)) % len(rooms)
			}
		}
	}
	if i < 0 || i >= len(rooms) {
		return
	}
	if err := m.sess.Switch(rooms[i].Name); err != nil {
		m.addLocal(room.KindError, room.UserMessage(nil, err))
		return
	}
	m.show(rooms[i].Name)
}

// refresh re-reads who is in the room and its topic.
func (m *Model) refresh() {
	m.members = m.sess.Members()
	m.topic = m.sess.Topic()
	m.name = m.sess.Name()
}

// layout sizes the input for the current window.
func (m *Model) layout() {
	m.input.SetWidth(max(m.chatWidth(), 4))
}

func (m *Model) wide() bool { return m.width >= wideAt }

func (m *Model) chatWidth() int {
	if m.wide() {
		return m.width - sideWidth - 1
	}
	return m.width
}

// pageLines is how far PgUp/PgDn move.
func (m *Model) pageLines() int { return max(m.chatHeight()-2, 1) }

func (m *Model) chatHeight() int { return max(m.height-1-m.input.Height(), 1) }

func (m *Model) scrollBy(n int) {
	m.cur.scroll = max(m.cur.scroll+n, 0)
	if m.cur.scroll == 0 {
		m.cur.unseen = 0
	}
}

// Close releases the model's context; the transport calls it when the
// program ends.
func (m *Model) Close() { m.cancel() }

// View renders the screen.
func (m *Model) View() tea.View {
	n := max(m.height, 1)
	left, right := make([]string, n), make([]string, n)
	v := m.ViewRows(left, right)
	var b strings.Builder
	for y := range min(m.lastRows, n) {
		if y > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(left[y])
		b.WriteString(right[y])
	}
	v.Content = b.String()
	return v
}

// ViewRows is View for the screen (screen.Rows): instead of one string it
// fills left and right, a row each, with the frame's rows in two parts:
// the conversation's (exactly the conversation's width where the member
// list is beside it) and the divider and member list. No frame string is
// built: the parts are the conversation's rendered lines and the member
// list's rows, shared between frames and between screens.
func (m *Model) ViewRows(left, right []string) tea.View {
	m.lastRows = m.fillRows(left, right)
	v := tea.View{AltScreen: true}
	if m.titleFor != m.cur.name || m.title == "" {
		m.titleFor, m.title = m.cur.name, "parley #"+m.cur.name
	}
	v.WindowTitle = m.title
	if c := m.input.Cursor(); c != nil && !m.ended {
		c.Y += m.height - m.input.Height()
		v.Cursor = c
	}
	return v
}

// Band tells the screen which rows of the last View hold the conversation
// (top, bottom) and how wide it is, so a new message scrolls the terminal
// instead of redrawing every row (screen.Band).
func (m *Model) Band() (top, bottom, width int) { return m.band[0], m.band[1], m.band[2] }

// fillRows puts the frame's rows in left and right (as many as fit) and
// returns how many rows the frame has.
func (m *Model) fillRows(left, right []string) int {
	n := 0
	put := func(l, r string) {
		if n < len(left) {
			left[n], right[n] = l, r
		}
		n++
	}
	if m.width < 10 || m.height < 4 {
		m.band = [3]int{}
		put("window too small", "")
		return n
	}
	cw, ch := m.chatWidth(), m.chatHeight()
	put(m.header(), "")
	// The conversation goes straight into the rows when they are all there.
	chat := left[min(n, len(left)):min(n+ch, len(left))]
	if len(chat) < ch {
		chat = make([]string, ch)
	}
	m.chatLines(chat, cw)
	m.band = [3]int{1, 1 + ch, cw}
	if m.overlay != "" {
		chat = m.overlayLines(cw, ch)
		m.band = [3]int{}
	}
	var side []string
	if m.wide() {
		side = m.sideLines(ch)
	}
	for i, line := range chat {
		if side == nil {
			put(line, "")
			continue
		}
		if line == "" { // chat rows are padded to cw, or empty
			line = m.blank(cw)
		}
		put(line, side[i])
	}
	rest := m.input.View()
	for {
		row, more, ok := strings.Cut(rest, "\n")
		put(row, "")
		if !ok {
			return n
		}
		rest = more
	}
}

// blank returns w spaces, kept between frames.
func (m *Model) blank(w int) string {
	if len(m.blankRow) != w {
		m.blankRow = strings.Repeat(" ", w)
	}
	return m.blankRow
}

// headerKey is what the header shows: it is drawn again only when that
// changes, not for every frame.
type headerKey struct {
	room, others, topic, name, theme string
	here, width                      int
}

func (m *Model) header() string {
	k := headerKey{room: m.cur.name, topic: m.topic, name: m.name, theme: m.st.theme, here: len(m.members), width: m.width}
	if len(m.views) > 1 {
		var others []string
		for _, r := range m.sortedViews() {
			if r != m.cur {
				o := "#" + r.name
				if r.unread > 0 {
					o += fmt.Sprintf(" (%d)", r.unread)
				}
				others = append(others, o)
			}
		}
		k.others = strings.Join(others, " ")
	}
	if m.headerDrawn != "" && k == m.headerFor {
		return m.headerDrawn
	}
	m.headerFor, m.headerDrawn = k, m.drawHeader(k)
	return m.headerDrawn
}

func (m *Model) drawHeader(k headerKey) string {
	left := fmt.Sprintf(" #%s ", k.room)
	info := fmt.Sprintf("%d here", k.here)
	if k.others != "" {
		info += " · " + k.others
	}
	if m.topic != "" {
		info += " · " + m.topic
	}
	right := ""
	if m.name != "" {
		right = " " + m.name + " "
	}
	if ansi.StringWidth(left)+ansi.StringWidth(right) > m.width {
		right = ""
	}
	room := m.st.header.Render(ansi.Truncate(left, m.width, ""))
	avail := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	info = ansi.Truncate(" "+info, max(avail, 0), "…")
	pad := max(avail-ansi.StringWidth(info), 0)
	return room + m.st.headerDim.Render(info+strings.Repeat(" ", pad)+right)
}

// chatLines fills out with the conversation's last len(out) lines,
// scrolled, each at most w cells wide.
func (m *Model) chatLines(out []string, w int) {
	h := len(out)
	sp := chatScratch.Get().(*[]string)
	defer func() { clear((*sp)[:cap(*sp)]); chatScratch.Put(sp) }()
	lines := (*sp)[:0]
	skip := m.cur.scroll
	for i := len(m.cur.entries) - 1; i >= 0 && len(lines) < h+skip; i-- {
		e := &m.cur.entries[i]
		if e.width != w || e.lines == nil {
			e.lines, e.width = m.entryLines(e, w), w
		}
		for j := len(e.lines) - 1; j >= 0 && len(lines) < h+skip; j-- {
			lines = append(lines, e.lines[j])
		}
	}
	*sp = lines[:0] // its capacity, for the next frame
	// The top of history: clamp the scroll so the view stays full.
	if len(lines) < h+skip {
		m.cur.scroll = max(len(lines)-h, 0)
		skip = m.cur.scroll
	}
	if skip > len(lines) {
		skip = len(lines)
	}
	lines = lines[skip:]
	if len(lines) > h {
		lines = lines[:h]
	}
	clear(out)
	for i, l := range lines { // lines are newest first
		out[h-1-i] = l
	}
	if m.cur.scroll > 0 {
		note := fmt.Sprintf(" ↓ %d new · PgDn to read ", m.cur.unseen)
		if m.cur.unseen == 0 {
			note = " ↓ scrolled up · PgDn to return "
		}
		out[h-1] = padTo(m.st.marker.Render(ansi.Truncate(note, w, "…")), w)
	}
}

// chatScratch holds chatLines' working slices between frames, for all
// screens: an idle screen keeps none.
var chatScratch = sync.Pool{New: func() any { return new([]string) }}

// padTo fills line with spaces to w cells, so that rows beside it line up
// without measuring it again.
func padTo(line string, w int) string {
	if pad := w - ansi.StringWidth(line); pad > 0 {
		return line + strings.Repeat(" ", pad)
	}
	return line
}

// sideCache keeps the member list's rendered rows between frames: a frame
// draws them only when the people, the height, the theme or the minute
// (idle times) changed, not for every message.
type sideCache struct {
	members []room.MemberInfo // the slice they were drawn from (compared by identity)
	h       int
	theme   string
	minute  int64
	lines   []string
}

func sameSlice(a, b []room.MemberInfo) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func (m *Model) sideLines(h int) []string {
	if m.quietColumn(h) {
		return m.quietLines(h)
	}
	minute := m.now().Unix() / 60
	c := &m.side
	if c.lines != nil && c.h == h && c.theme == m.st.theme && c.minute == minute && sameSlice(c.members, m.members) {
		return c.lines
	}
	*c = sideCache{members: m.members, h: h, theme: m.st.theme, minute: minute}
	if lines := sharedSides.get(*c); lines != nil {
		c.lines = lines
		return lines
	}
	c.lines = m.drawSide(h)
	sharedSides.put(*c)
	return c.lines
}

// sharedSides holds member lists drawn for any screen: the screens in one
// room share its members list (room.Hub.Members), so those of the same
// height and theme draw the same rows; a thousand people arriving draw each
// new list once, not once per screen. The rows are never modified.
var sharedSides sideShare

type sideShare struct {
	mu      sync.Mutex
	entries [16]sideCache
	next    int
}

func (s *sideShare) get(k sideCache) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.lines != nil && e.h == k.h && e.theme == k.theme && e.minute == k.minute && sameSlice(e.members, k.members) {
			return e.lines
		}
	}
	return nil
}

func (s *sideShare) put(c sideCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[s.next] = c
	s.next = (s.next + 1) % len(s.entries)
}

// shownIdle reports whether the member list beside the conversation shows
// identity id with an idle time.
func (m *Model) shownIdle(id string) bool {
	if !m.wide() {
		return false
	}
	now := m.now()
	for i, p := range m.members {
		if i+1 >= m.chatHeight() {
			break // below the rows shown
		}
		if p.ID == id {
			return p.Away == "" && idle(now, p.LastActive) != ""
		}
	}
	return false
}

// drawSide draws the member list's rows, each after the divider.
func (m *Model) drawSide(h int) []string {
	out := make([]string, h)
	out[0] = m.st.dim.Render(ansi.Truncate(fmt.Sprintf(" %d here", len(m.members)), sideWidth, ""))
	defer func() {
		for i := range out {
			out[i] = m.st.divider + out[i]
		}
	}()
	now := m.now()
	for i, p := range m.members {
		if i+1 >= h {
			break
		}
		mark := " "
		if p.Admin {
			mark = "@"
		}
		name := lipgloss.NewStyle().Foreground(NameColor(p.ID)).Render(p.Name)
		line := mark + name
		if p.Bot {
			line += m.st.dim.Render(" ⚙")
		}
		if p.Away != "" {
			line += m.st.dim.Render(" (away)")
		} else if d := idle(now, p.LastActive); d != "" {
			line += m.st.dim.Render(" " + d)
		}
		out[i+1] = ansi.Truncate(line, sideWidth, "…")
	}
	return out
}

// sortedViews returns the rooms this screen holds, by name.
func (m *Model) sortedViews() []*view {
	out := make([]*view, 0, len(m.views))
	for _, v := range m.views {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// overlayLines shows the help in place of the conversation, from
// overlayTop, with a border when the screen is wide enough to spare it.
func (m *Model) overlayLines(w, h int) []string {
	text := m.overlay
	if w >= 60 {
		text = m.st.help.Width(w - 2).Render(text)
	} else {
		text = ansi.Wrap(text, w, " ")
	}
	lines := strings.Split(text, "\n")
	m.overlayTop = min(m.overlayTop, max(len(lines)-h, 0))
	lines = lines[m.overlayTop:]
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = padTo(ansi.Truncate(lines[i], w, ""), w)
		}
	}
	if len(lines) > h && h > 0 {
		out[h-1] = padTo(m.st.marker.Render(ansi.Truncate(" ↓ more: Down or Space · other keys close ", w, "…")), w)
	}
	return out
}
