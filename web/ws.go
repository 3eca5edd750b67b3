package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"parley/room"
)

// statusEnded is the close code when the room session ended (kicked, key
// removed, banned, too slow, server stopping): the reason is in the close
// frame and in the "end" frame before it. The page does not reconnect by
// itself after it.
const statusEnded websocket.StatusCode = 4000

// endGrace is how long an ended session's page has to read the rest.
const endGrace = 5 * time.Second

// wsConn is one WebSocket of a signed-in browser and its room session.
type wsConn struct {
	s    *Server
	c    *websocket.Conn
	sess *room.Session
	ctx  context.Context
	// handle is the browser session's (SessionRecord.Handle): revoking
	// it ends this page.
	handle string
}

// serveWS is GET /ws?csrf=TOKEN: the page's live connection.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	b, id, err := s.session(r)
	if err != nil {
		httpError(w, sessionStatus(err), err.Error())
		return
	}
	if !s.checkCSRF(r, b, r.URL.Query().Get("csrf")) {
		httpError(w, http.StatusForbidden, "cross-origin WebSocket or wrong CSRF token refused")
		return
	}
	if !s.reservePage(id.ID) {
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("you already have %d pages open; close one first", maxPagesPerIdentity))
		return
	}
	defer s.releasePage(id.ID)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{s.public.Host, r.Host}})
	if err != nil {
		s.log.Debug("web: websocket accept", "err", err)
		return // Accept has answered
	}
	c.SetReadLimit(maxFrameRead)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sess, err := s.cfg.Hub.Connect(ctx, id)
	if err != nil {
		_ = c.Close(websocket.StatusTryAgainLater, "could not join the chat: "+room.UserMessage(s.log, err))
		return
	}
	// Once the session has ended, the page has endGrace to take what was
	// queued and the reason; a page that has stopped reading is cut off
	// then (a write to it may be stuck until writeTimeout otherwise).
	sess.OnEnd(func() { time.AfterFunc(endGrace, cancel) })
	wc := &wsConn{s: s, c: c, sess: sess, ctx: ctx, handle: b.handle}
	s.mu.Lock()
	closed := s.closed
	s.conns[wc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, wc)
		s.mu.Unlock()
	}()
	if closed {
		wc.end("the server is stopping")
	}
	// A revoke between the check above and the registration just made
	// would have missed this page: look once more.
	if c, err := r.Cookie(cookieName); err == nil {
		if _, err := s.lookupSession(ctx, c.Value); errors.Is(err, errNotSignedIn) {
			wc.end("signed out")
		}
	}
	s.log.Debug("web: connected", "id", id.ID, "addr", s.clientIP(r))
	done := make(chan struct{})
	go func() {
		defer close(done)
		wc.writeLoop()
	}()
	wc.readLoop()
	sess.Close(room.ReasonDisconnected) // the page went away (or was ended: closing twice does nothing)
	<-done
	s.touchAfterPage(r)
	c.CloseNow()
}

// reservePage counts one more open page of identity id, unless it has
// maxPagesPerIdentity already, or all identities maxPages.
func (s *Server) reservePage(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages[id] >= maxPagesPerIdentity || s.pagesAll >= maxPages {
		return false
	}
	s.pages[id]++
	s.pagesAll++
	return true
}

func (s *Server) releasePage(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pagesAll--
	if s.pages[id]--; s.pages[id] <= 0 {
		delete(s.pages, id)
	}
}

// end closes the room session with reason; the writer tells the page.
func (wc *wsConn) end(reason string) { wc.sess.Close(reason) }

// readLoop takes what the page sends, in order, until the socket closes.
func (wc *wsConn) readLoop() {
	for {
		typ, data, err := wc.c.Read(wc.ctx)
		if err != nil {
			if status := websocket.CloseStatus(err); status == -1 && !errors.Is(err, context.Canceled) {
				wc.s.log.Debug("web: read", "err", err)
			}
			return
		}
		if typ != websocket.MessageText {
			wc.error("binary frames are not part of the protocol")
			continue
		}
		var f inFrame
		if err := json.Unmarshal(data, &f); err != nil {
			wc.error("could not read that frame as JSON: " + err.Error())
			continue
		}
		switch f.Type {
		case typeSend:
			if f.Room != "" && f.Room != wc.sess.Room() {
				if err := wc.sess.Switch(f.Room); err != nil {
					wc.error(room.UserMessage(wc.s.log, err))
					continue
				}
			}
			if !utf8.ValidString(f.Text) {
				wc.error("the message is not valid UTF-8")
				continue
			}
			if err := wc.sess.Send(wc.ctx, f.Text); err != nil {
				if errors.Is(err, room.ErrClosed) || wc.ctx.Err() != nil {
					return
				}
				wc.error(room.UserMessage(wc.s.log, err))
			}
		case typeOlder:
			if !wc.older(f.Room, f.Before) {
				return
			}
		case typeSwitch:
			if err := wc.sess.Switch(f.Room); err != nil {
				wc.error(room.UserMessage(wc.s.log, err))
			}
		default:
			wc.error("unknown frame type")
		}
	}
}

// error tells the page that what it sent was refused.
func (wc *wsConn) error(text string) {
	_ = wc.write(outFrame{Type: typeError, Text: text})
}

func (wc *wsConn) write(f outFrame) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(wc.ctx, writeTimeout)
	defer cancel()
	return wc.c.Write(ctx, websocket.MessageText, data)
}

// writeLoop owns the room session's reading side: it sends the page its
// start (who, rooms, the current room's backlog and members), then every
// event, until the session ends; then the reason, and closes the socket.
func (wc *wsConn) writeLoop() {
	sess := wc.sess
	if err := wc.start(); err != nil {
		sess.Close(room.ReasonDisconnected)
	}
	var buf []room.Message
	for {
		var ok bool
		buf, ok = sess.Receive(buf, 256)
		if !ok {
			break
		}
		if err := wc.forward(buf); err != nil {
			// The page stopped reading (or went away): end the session;
			// its queue would otherwise fill and the hub end it anyway.
			sess.Close(room.ReasonDisconnected)
		}
	}
	reason := sess.Reason()
	if reason != room.ReasonDisconnected {
		if _, err := wc.s.cfg.Identities.Identity(sess.ID()); err != nil {
			wc.s.signOutID(sess.ID()) // removed or banned: the cookie goes too
		}
	}
	_ = wc.write(outFrame{Type: typeEnd, Reason: reason})
	_ = wc.c.Close(statusEnded, closeReason(reason))
}

// closeReason fits reason in a close frame (123 bytes), on a rune boundary.
func closeReason(reason string) string {
	const max = 120
	if len(reason) <= max {
		return reason
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

func (wc *wsConn) start() error {
	sess := wc.sess
	cur := sess.Room()
	if err := wc.write(outFrame{Type: typeHello, ID: sess.ID(), Name: sess.Name(), Admin: sess.Admin(), Room: cur}); err != nil {
		return err
	}
	if err := wc.write(outFrame{Type: typeRooms, Rooms: toRooms(sess.Rooms()), Room: cur}); err != nil {
		return err
	}
	return wc.enter(cur, sess.Backlog())
}

// enter sends a room's backlog and members.
func (wc *wsConn) enter(name string, backlog []room.Message) error {
	f := outFrame{Type: typeBacklog, Room: name, Messages: toMessages(backlog), Read: wc.sess.ReadMark(name), Current: wc.sess.Room() == name}
	if err := wc.write(f); err != nil {
		return err
	}
	return wc.write(outFrame{Type: typeMembers, Room: name, Members: toMembers(wc.s.cfg.Hub.Members(name))})
}

// forward sends a batch of events, then the member-list changes and the
// room list they made, once each.
func (wc *wsConn) forward(msgs []room.Message) error {
	sess := wc.sess
	var lists listChanges
	rooms, hello := false, false
	for i := range msgs {
		m := &msgs[i]
		switch m.Kind {
		case room.KindEnter:
			if err := wc.enter(m.Room, sess.RoomBacklog(m.Room)); err != nil {
				return err
			}
			rooms = true
			continue
		case room.KindPresence:
			if m.Text != room.PresenceIdle { // the page shows no idle times
				lists.add(m.Room, m.FromID)
			}
			continue
		case room.KindJoin, room.KindLeave:
			lists.add(m.Room, m.FromID)
			rooms = true // people counts
		case room.KindNick:
			lists.add(m.Room, m.FromID)
			hello = hello || m.FromID == sess.ID()
		case room.KindTopic:
			rooms = true
		}
		mj := toMessage(m)
		if err := wc.write(outFrame{Type: typeMessage, Message: &mj}); err != nil {
			return err
		}
	}
	if hello {
		if err := wc.write(outFrame{Type: typeHello, ID: sess.ID(), Name: sess.Name(), Admin: sess.Admin(), Room: sess.Room()}); err != nil {
			return err
		}
	}
	if rooms {
		if err := wc.write(outFrame{Type: typeRooms, Rooms: toRooms(sess.Rooms()), Room: sess.Room()}); err != nil {
			return err
		}
	}
	return wc.writeLists(lists)
}

// maxMemberChanges is how many changed entries of one room's member list
// a batch sends one by one; more, and the whole list is cheaper.
const maxMemberChanges = 32

// writeLists sends the member-list changes of a batch: each changed entry
// (or its removal) when few changed, the whole list when many did or the
// change was not said. Sending entries keeps a busy room's arrivals cheap:
// after every join the whole list would cost each page O(members), and
// the room O(members²) per arrival.
func (wc *wsConn) writeLists(lists listChanges) error {
	hub := wc.s.cfg.Hub
	for name, c := range lists {
		if c.all || len(c.ids) > maxMemberChanges {
			if err := wc.write(outFrame{Type: typeMembers, Room: name, Members: toMembers(hub.Members(name))}); err != nil {
				return err
			}
			continue
		}
		for id := range c.ids {
			f := outFrame{Type: typeMember, Room: name}
			if info, ok := hub.RoomMember(name, id); ok {
				mj := toMember(info)
				f.Member = &mj
			} else {
				f.ID, f.Gone = id, true
			}
			if err := wc.write(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// listChanges is what changed in the member lists during one batch, by
// room.
type listChanges map[string]*listChange

// listChange is one room's: the identities whose entries changed, or all.
type listChange struct {
	all bool
	ids map[string]struct{}
}

// add notes that id's entry in room's list changed; an empty id means the
// change was not said, and the whole list is sent.
func (l *listChanges) add(room, id string) {
	if room == "" {
		return
	}
	if *l == nil {
		*l = listChanges{}
	}
	c := (*l)[room]
	if c == nil {
		c = &listChange{ids: map[string]struct{}{}}
		(*l)[room] = c
	}
	if id == "" {
		c.all = true
		return
	}
	c.ids[id] = struct{}{}
}
