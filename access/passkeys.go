package access

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"parley/safetext"
)

// PasskeyInfo is one passkey as `keys list` shows it: whose, made when,
// last used when.
type PasskeyInfo struct {
	Identity          string
	Created, LastUsed time.Time // LastUsed zero: never
}

// PasskeyStore is what the access list needs of the passkeys (the web
// front door keeps them through its own, larger port): list them, and
// forget those of an identity that is removed.
type PasskeyStore interface {
	// PasskeyList returns every passkey, by identity then age.
	PasskeyList(ctx context.Context) ([]PasskeyInfo, error)
	// RemovePasskeys removes every passkey of identity and says how many.
	RemovePasskeys(ctx context.Context, identity string) (int, error)
}

// FindAccount returns the account of accts that who names: its id, or
// its name compared with safetext.Fold.
func FindAccount(ctx context.Context, accts Accounts, who string) (Account, bool, error) {
	all, err := accts.Accounts(ctx)
	if err != nil {
		return Account{}, false, fmt.Errorf("browser-only accounts: %w", err)
	}
	who = strings.TrimSpace(who)
	for _, a := range all {
		if a.ID == who || safetext.Fold(a.Name) == safetext.Fold(who) {
			return a, true, nil
		}
	}
	return Account{}, false, nil
}

// MemoryPasskeys keeps passkeys in memory (--store memory: lost on
// restart). It has the methods of web.Credentials and PasskeyStore.
type MemoryPasskeys struct {
	mu   sync.Mutex
	keys []memoryPasskey // guarded by mu
}

type memoryPasskey struct {
	identity      string
	id, rec       []byte
	created, used time.Time
}

var _ PasskeyStore = (*MemoryPasskeys)(nil)

// NewMemoryPasskeys returns an empty MemoryPasskeys.
func NewMemoryPasskeys() *MemoryPasskeys { return &MemoryPasskeys{} }

// AddPasskey stores a new credential id of identity.
func (m *MemoryPasskeys) AddPasskey(_ context.Context, identity string, id, record []byte, created time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if bytes.Equal(k.id, id) {
			return errors.New("access: this passkey is stored already")
		}
	}
	m.keys = append(m.keys, memoryPasskey{identity: identity, id: bytes.Clone(id), rec: bytes.Clone(record), created: created})
	return nil
}

// Passkeys returns the records of identity's credentials.
func (m *MemoryPasskeys) Passkeys(_ context.Context, identity string) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, k := range m.keys {
		if k.identity == identity {
			out = append(out, bytes.Clone(k.rec))
		}
	}
	return out, nil
}

// PasskeyOwner returns the identity and record of credential id.
func (m *MemoryPasskeys) PasskeyOwner(_ context.Context, id []byte) (string, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if bytes.Equal(k.id, id) {
			return k.identity, bytes.Clone(k.rec), nil
		}
	}
	return "", nil, nil
}

// UpdatePasskey replaces the record of credential id and notes its use.
func (m *MemoryPasskeys) UpdatePasskey(_ context.Context, id, record []byte, used time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range m.keys {
		if bytes.Equal(k.id, id) {
			m.keys[i].rec, m.keys[i].used = bytes.Clone(record), used
		}
	}
	return nil
}

// RemovePasskeys implements PasskeyStore.
func (m *MemoryPasskeys) RemovePasskeys(_ context.Context, identity string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept, n := m.keys[:0], 0
	for _, k := range m.keys {
		if k.identity == identity {
			n++
			continue
		}
		kept = append(kept, k)
	}
	m.keys = kept
	return n, nil
}

// PasskeyList implements PasskeyStore.
func (m *MemoryPasskeys) PasskeyList(context.Context) ([]PasskeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]PasskeyInfo, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, PasskeyInfo{Identity: k.identity, Created: k.created, LastUsed: k.used})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Identity < out[j].Identity })
	return out, nil
}
