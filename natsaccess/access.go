package natsaccess

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/access"
	"parley/safetext"
)

// Bans and invites: access.Store over the PARLEY_BANS and PARLEY_INVITES
// buckets.

// AccessStore returns the access.Store of the cluster's bans and invites.
func (s *Shared) AccessStore() access.Store { return accessStore{s} }

type accessStore struct{ s *Shared }

var _ access.Store = accessStore{}

// PutBan implements access.Store.
func (a accessStore) PutBan(ctx context.Context, b access.Ban) error {
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("ban: %w", err)
	}
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	if _, err := a.s.bans.Put(ctx, keyOf(b.Fingerprint), data); err != nil {
		return fmt.Errorf("ban %s: %w", b.Fingerprint, err)
	}
	return nil
}

// DeleteBan implements access.Store.
func (a accessStore) DeleteBan(ctx context.Context, fingerprint string) (bool, error) {
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	key := keyOf(fingerprint)
	if _, err := a.s.bans.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("unban %s: %w", fingerprint, err)
	}
	if err := a.s.bans.Delete(ctx, key); err != nil {
		return false, fmt.Errorf("unban %s: %w", fingerprint, err)
	}
	return true, nil
}

// Bans implements access.Store.
func (a accessStore) Bans(ctx context.Context) ([]access.Ban, error) {
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	var out []access.Ban
	err := each(ctx, a.s.bans, func(key string, value []byte) {
		if b, err := decodeBan(key, value); err == nil {
			out = append(out, b)
		} else {
			a.s.log.Warn("a stored ban cannot be read: skipped", "key", key, "err", err)
		}
	})
	return out, err
}

// decodeBan reads a ban from the bucket: its fingerprint must be the one
// its key is made from, and its text is made inert again (anyone who may
// write the bucket could have written it).
func decodeBan(key string, value []byte) (access.Ban, error) {
	var b access.Ban
	if err := json.Unmarshal(value, &b); err != nil {
		return access.Ban{}, fmt.Errorf("ban: %w", err)
	}
	if b.Fingerprint == "" || keyOf(b.Fingerprint) != key {
		return access.Ban{}, fmt.Errorf("ban: fingerprint %q is not the one of its key", safetext.Line(b.Fingerprint, 64))
	}
	b.Fingerprint = safetext.Line(b.Fingerprint, 128)
	b.Name = safetext.Line(b.Name, safetext.MaxNameRunes)
	b.Reason = safetext.Line(b.Reason, 200)
	b.By, b.ByName = safetext.Line(b.By, 128), safetext.Line(b.ByName, safetext.MaxNameRunes)
	return b, nil
}

// invite is an invite as the bucket keeps it; its key is the hex hash of
// the code.
type invite struct {
	UsesLeft int       `json:"uses"`
	Expires  time.Time `json:"expires"`
	By       string    `json:"by,omitempty"`
	ByName   string    `json:"by_name,omitempty"`
	Created  time.Time `json:"created"`
}

// PutInvite implements access.Store. Spent and expired invites are
// forgotten first.
func (a accessStore) PutInvite(ctx context.Context, inv access.Invite) error {
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	now := time.Now()
	var dead []string
	if err := each(ctx, a.s.invites, func(key string, value []byte) {
		var old invite
		if json.Unmarshal(value, &old) != nil || old.UsesLeft <= 0 || !now.Before(old.Expires) {
			dead = append(dead, key)
		}
	}); err != nil {
		return fmt.Errorf("invites: %w", err)
	}
	for _, k := range dead {
		_ = a.s.invites.Purge(ctx, k)
	}
	data, _ := json.Marshal(invite{UsesLeft: inv.UsesLeft, Expires: inv.Expires, By: inv.By, ByName: inv.ByName, Created: inv.Created})
	if _, err := a.s.invites.Put(ctx, hex.EncodeToString(inv.Hash[:]), data); err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	return nil
}

// casTries bounds the compare-and-set retries of one redemption: each
// failure means another node used or refunded the same invite meanwhile.
const casTries = 16

// RedeemInvite implements access.Store: one use taken with a
// compare-and-set on the invite's revision, so two nodes redeeming the
// last use at once give it to one of them.
func (a accessStore) RedeemInvite(ctx context.Context, hash [sha256.Size]byte, now time.Time) (bool, error) {
	return a.changeInvite(ctx, hash, func(inv *invite) bool {
		if inv.UsesLeft <= 0 || !now.Before(inv.Expires) {
			return false
		}
		inv.UsesLeft--
		return true
	})
}

// RefundInvite implements access.Store.
func (a accessStore) RefundInvite(ctx context.Context, hash [sha256.Size]byte) error {
	_, err := a.changeInvite(ctx, hash, func(inv *invite) bool { inv.UsesLeft++; return true })
	return err
}

// changeInvite applies change to the stored invite with this hash, with a
// compare-and-set; it reports whether change made one (false: no such
// invite, or change refused).
func (a accessStore) changeInvite(ctx context.Context, hash [sha256.Size]byte, change func(*invite) bool) (bool, error) {
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	key := hex.EncodeToString(hash[:])
	for range casTries {
		e, err := a.s.invites.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("invite: %w", err)
		}
		var inv invite
		if err := json.Unmarshal(e.Value(), &inv); err != nil {
			return false, nil // unreadable: not a usable invite
		}
		if !change(&inv) {
			return false, nil
		}
		data, _ := json.Marshal(inv)
		if _, err := a.s.invites.Update(ctx, key, data, e.Revision()); errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue // changed meanwhile by another node: read it again
		} else if err != nil {
			return false, fmt.Errorf("invite: %w", err)
		}
		return true, nil
	}
	return false, fmt.Errorf("invite: changed by others %d times in a row; try again", casTries)
}

// InvitesOpenUntil implements access.Store.
func (a accessStore) InvitesOpenUntil(ctx context.Context, now time.Time) (time.Time, error) {
	ctx, cancel := a.s.ctx(ctx)
	defer cancel()
	var until time.Time
	err := each(ctx, a.s.invites, func(_ string, value []byte) {
		var inv invite
		if json.Unmarshal(value, &inv) == nil && inv.UsesLeft > 0 && now.Before(inv.Expires) && inv.Expires.After(until) {
			until = inv.Expires
		}
	})
	return until, err
}

// each calls fn with every key of kv and its value (deleted keys are not
// listed).
func each(ctx context.Context, kv jetstream.KeyValue, fn func(key string, value []byte)) error {
	l, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("%s: list: %w", kv.Bucket(), err)
	}
	defer l.Stop()
	var names []string
	for k := range l.Keys() {
		names = append(names, k)
	}
	for _, k := range names {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("%s: %w", kv.Bucket(), err)
		}
		fn(k, e.Value())
	}
	return ctx.Err()
}

// applyBan applies a ban made or lifted on any node to this one: the cached
// bans follow, and the sessions of a key banned elsewhere end with the
// reason, as on the node that banned it.
func (s *Shared) applyBan(n Node, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		for _, b := range n.Access.Bans() {
			if keyOf(b.Fingerprint) == e.Key() {
				n.Access.Observe(b, false)
			}
		}
		return
	}
	b, err := decodeBan(e.Key(), e.Value())
	if err != nil {
		s.log.Warn("a shared ban cannot be read: skipped", "key", e.Key(), "err", err)
		return
	}
	if !n.Access.Observe(b, true) || !b.Active(n.Access.Now()) {
		return
	}
	why := fmt.Sprintf("banned by %s %s", b.ByName, b.Term())
	if b.Reason != "" {
		why += ": " + b.Reason
	}
	if k := n.Hub.Kick(b.Fingerprint, why); k > 0 {
		s.log.Info("a key banned on another node: its sessions here ended", "fingerprint", b.Fingerprint, "sessions", k)
	}
}
