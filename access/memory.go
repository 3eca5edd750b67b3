package access

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// Memory is a Store that keeps everything in memory: for --store memory
// (bans and invites are lost on restart, like the history) and for tests.
type Memory struct {
	mu      sync.Mutex
	bans    map[string]Ban
	invites map[[sha256.Size]byte]Invite
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{bans: make(map[string]Ban), invites: make(map[[sha256.Size]byte]Invite)}
}

// PutBan implements Store.
func (m *Memory) PutBan(_ context.Context, b Ban) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bans[b.Fingerprint] = b
	return nil
}

// DeleteBan implements Store.
func (m *Memory) DeleteBan(_ context.Context, fingerprint string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.bans[fingerprint]
	delete(m.bans, fingerprint)
	return ok, nil
}

// Bans implements Store.
func (m *Memory) Bans(context.Context) ([]Ban, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Ban, 0, len(m.bans))
	for _, b := range m.bans {
		out = append(out, b)
	}
	return out, nil
}

// PutInvite implements Store.
func (m *Memory) PutInvite(_ context.Context, inv Invite) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for h, old := range m.invites { // forget the spent and the expired
		if old.UsesLeft <= 0 || !now.Before(old.Expires) {
			delete(m.invites, h)
		}
	}
	m.invites[inv.Hash] = inv
	return nil
}

// RedeemInvite implements Store.
func (m *Memory) RedeemInvite(_ context.Context, hash [sha256.Size]byte, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invites[hash]
	if !ok || inv.UsesLeft <= 0 || !now.Before(inv.Expires) {
		return false, nil
	}
	inv.UsesLeft--
	m.invites[hash] = inv
	return true, nil
}

// RefundInvite implements Store.
func (m *Memory) RefundInvite(_ context.Context, hash [sha256.Size]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if inv, ok := m.invites[hash]; ok {
		inv.UsesLeft++
		m.invites[hash] = inv
	}
	return nil
}

// InvitesOpenUntil implements Store.
func (m *Memory) InvitesOpenUntil(_ context.Context, now time.Time) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var until time.Time
	for _, inv := range m.invites {
		if inv.UsesLeft > 0 && now.Before(inv.Expires) && inv.Expires.After(until) {
			until = inv.Expires
		}
	}
	return until, nil
}
