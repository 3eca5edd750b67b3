package web

import (
	"context"
	"errors"

	"parley/room"
)

// olderPage is how many stored messages one "older" frame returns (the
// SSH screen pages its scrollback by as many).
const olderPage = 100

// older answers an "older" frame: up to olderPage messages of name stored
// before seq, oldest first, from the store through Session.Older (so a
// room the person may not read stays closed). start tells the page there
// is nothing before them. It runs on the reading goroutine and writes its
// answer itself (the socket allows concurrent writers; the answer need not
// be ordered with live events, which the page keeps apart). It returns
// false when the page has gone.
func (wc *wsConn) older(name string, before uint64) bool {
	if name == "" {
		name = wc.sess.Room()
	}
	if before == 0 {
		wc.error(`"older" needs "before": the seq of the oldest message the page has`)
		return true
	}
	msgs, err := wc.sess.Older(wc.ctx, name, before, olderPage)
	if err != nil {
		if wc.ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return false
		}
		wc.error(room.UserMessage(wc.s.log, err))
		return true
	}
	start := len(msgs) < olderPage || msgs[0].Seq <= 1
	f := outFrame{Type: typeOlder, Room: name, Before: before, Messages: toMessages(msgs), Start: start}
	return wc.write(f) == nil
}
