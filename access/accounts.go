package access

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Account is a browser-only identity (issue 17): a person who joined from
// the web page with an invite code and a passkey, and has no SSH key. Its
// ID takes the place of a key's fingerprint everywhere an identity is
// named (bans, room invitations, read marks), and never looks like one.
// Accounts are never admins: admin rights come from authorized_keys.
type Account struct {
	// ID is "web:" and 16 random base32 characters.
	ID string
	// Name is the name chosen at the invite (safetext.ValidateName rules).
	Name string
	// Created is when the invite was used.
	Created time.Time
}

// Accounts keeps browser-only identities durably: store.SQLite in
// production, MemoryAccounts for --store memory and tests.
// Implementations must be safe for concurrent use.
type Accounts interface {
	// PutAccount stores a new account.
	PutAccount(ctx context.Context, a Account) error
	// Accounts returns every account, oldest first.
	Accounts(ctx context.Context) ([]Account, error)
	// DeleteAccount removes the account id; it reports whether there was one.
	DeleteAccount(ctx context.Context, id string) (bool, error)
}

// MemoryAccounts is Accounts in memory: lost on restart.
type MemoryAccounts struct {
	mu       sync.Mutex
	accounts map[string]Account // guarded by mu
}

var _ Accounts = (*MemoryAccounts)(nil)

// NewMemoryAccounts returns an empty MemoryAccounts.
func NewMemoryAccounts() *MemoryAccounts { return &MemoryAccounts{accounts: map[string]Account{}} }

// PutAccount implements Accounts.
func (m *MemoryAccounts) PutAccount(_ context.Context, a Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accounts[a.ID] = a
	return nil
}

// Accounts implements Accounts.
func (m *MemoryAccounts) Accounts(context.Context) ([]Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Account, 0, len(m.accounts))
	for _, a := range m.accounts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// DeleteAccount implements Accounts.
func (m *MemoryAccounts) DeleteAccount(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.accounts[id]
	delete(m.accounts, id)
	return ok, nil
}
