package web

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// MemoryCredentials is a Credentials kept in memory: for tests and for
// --store memory (passkeys are then lost on restart, like the history).
type MemoryCredentials struct {
	mu    sync.Mutex
	creds []memoryPasskey // guarded by mu
}

type memoryPasskey struct {
	identity string
	id, rec  []byte
}

var _ Credentials = (*MemoryCredentials)(nil)

// NewMemoryCredentials returns an empty MemoryCredentials.
func NewMemoryCredentials() *MemoryCredentials { return &MemoryCredentials{} }

// AddPasskey implements Credentials.
func (m *MemoryCredentials) AddPasskey(_ context.Context, identity string, id, record []byte, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.creds {
		if bytes.Equal(c.id, id) {
			return errDuplicatePasskey
		}
	}
	m.creds = append(m.creds, memoryPasskey{identity: identity, id: bytes.Clone(id), rec: bytes.Clone(record)})
	return nil
}

// Passkeys implements Credentials.
func (m *MemoryCredentials) Passkeys(_ context.Context, identity string) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, c := range m.creds {
		if c.identity == identity {
			out = append(out, bytes.Clone(c.rec))
		}
	}
	return out, nil
}

// PasskeyOwner implements Credentials.
func (m *MemoryCredentials) PasskeyOwner(_ context.Context, id []byte) (string, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.creds {
		if bytes.Equal(c.id, id) {
			return c.identity, bytes.Clone(c.rec), nil
		}
	}
	return "", nil, nil
}

// UpdatePasskey implements Credentials.
func (m *MemoryCredentials) UpdatePasskey(_ context.Context, id, record []byte, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range m.creds {
		if bytes.Equal(c.id, id) {
			m.creds[i].rec = bytes.Clone(record)
		}
	}
	return nil
}

// RemovePasskeys implements Credentials.
func (m *MemoryCredentials) RemovePasskeys(_ context.Context, identity string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := m.creds[:0]
	n := 0
	for _, c := range m.creds {
		if c.identity == identity {
			n++
			continue
		}
		kept = append(kept, c)
	}
	m.creds = kept
	return n, nil
}
