package natsaccess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/safetext"
)

// Kicks and mutes: moderation.Cluster. A kick is a moment, not a state: it
// is a plain NATS message on KickSubject, which the nodes connected then
// act on (a node that is down has no sessions to end). A mute is state:
// the PARLEY_MUTES bucket holds it, so that it holds on every node, for
// people who connect later, and across restarts.

// kick is a message on KickSubject.
type kick struct {
	From   string `json:"from"` // the Shared that sent it, which has acted already
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Kicked implements moderation.Cluster: it asks every other node to end
// identity id's sessions with reason, and waits until NATS has the request.
func (s *Shared) Kicked(id, reason string) error {
	data, _ := json.Marshal(kick{From: s.id, ID: id, Reason: reason})
	if err := s.nc.Publish(KickSubject, data); err != nil {
		return fmt.Errorf("kick %s: %w", id, err)
	}
	if err := s.nc.FlushTimeout(s.opts.Timeout); err != nil {
		return fmt.Errorf("kick %s: %w", id, err)
	}
	return nil
}

// applyKick ends the sessions of a kick made on another node.
func (s *Shared) applyKick(n Node, data []byte) {
	var k kick
	if err := json.Unmarshal(data, &k); err != nil || k.ID == "" {
		s.log.Warn("a kick message cannot be read: skipped", "err", err)
		return
	}
	if k.From == s.id {
		return
	}
	id, reason := safetext.Line(k.ID, 128), safetext.Line(k.Reason, 300)
	if c := n.Hub.Kick(id, reason); c > 0 {
		s.log.Info("kicked on another node: sessions here ended", "id", id, "sessions", c)
	}
}

// mute is a mute as the bucket keeps it; Off records an unmute (so that
// every node hears who lifted it).
type mute struct {
	ID    string    `json:"id"`
	Until time.Time `json:"until,omitzero"`
	By    string    `json:"by"`
	Off   bool      `json:"off,omitempty"`
}

// Muted implements moderation.Cluster.
func (s *Shared) Muted(id string, until time.Time, by string) error {
	return s.putMute(mute{ID: id, Until: until, By: by})
}

// Unmuted implements moderation.Cluster.
func (s *Shared) Unmuted(id, by string) error { return s.putMute(mute{ID: id, By: by, Off: true}) }

func (s *Shared) putMute(m mute) error {
	ctx, cancel := s.ctx(context.Background())
	defer cancel()
	data, _ := json.Marshal(m)
	rev, err := s.mutes.Put(ctx, keyOf(m.ID), data)
	if err != nil {
		return fmt.Errorf("mute %s: %w", m.ID, err)
	}
	s.sawMute(m.ID, rev)
	return nil
}

// sawMute records that revision rev of identity id's mute is known here
// (stored or applied): an older one delivered again (a watcher made again
// after a reconnection) never undoes a mute or unmute given here since.
func (s *Shared) sawMute(id string, rev uint64) (newer bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.muteRev[id] {
		return false
	}
	s.muteRev[id] = rev
	return true
}

// applyMute applies a mute or unmute stored by any node to this node's
// hub, when the hub does not hold it already (the node that muted does)
// and this node knows no newer one.
// Those muted who are connected here are told, as on the node that muted.
func (s *Shared) applyMute(n Node, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var m mute
	err := json.Unmarshal(e.Value(), &m)
	if err == nil && keyOf(m.ID) != e.Key() {
		err = errors.New("its identity is not the one of its key")
	}
	if err != nil {
		s.log.Warn("a shared mute cannot be read: skipped", "key", e.Key(), "err", err)
		return
	}
	if !s.sawMute(m.ID, e.Revision()) {
		return
	}
	by := safetext.Line(m.By, safetext.MaxNameRunes)
	until, muted := n.Hub.Muted(m.ID)
	switch {
	case m.Off:
		if muted {
			n.Hub.Unmute(m.ID, by)
		}
	case !m.Until.IsZero() && !n.Access.Now().Before(m.Until): // over already
	case muted && until.Equal(m.Until):
	default:
		n.Hub.Mute(m.ID, m.Until, by)
	}
}
