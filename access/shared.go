package access

import (
	"context"
	"time"
)

// Changes made elsewhere. When the Store is shared by several processes
// (natsaccess, over NATS JetStream KV), another process may ban, unban or
// make an invite; its watcher tells this Control, so that the bans
// cached for the authentication path and the answer of InvitesOpen follow
// at once, without a read of the Store at every login.

// Observe applies a ban made (on is true) or lifted (on is false) by
// another process to the cached bans, and reports whether the cache
// changed: false when this Control already held that ban (it made it
// itself) or, for a lift, held none. An expired ban is not cached.
func (c *Control) Observe(b Ban, on bool) (changed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.bans[b.Fingerprint]
	if !on {
		delete(c.bans, b.Fingerprint)
		return had
	}
	if !b.Active(c.now()) {
		delete(c.bans, b.Fingerprint)
		return had
	}
	c.bans[b.Fingerprint] = b
	return !had || !sameBan(old, b)
}

func sameBan(a, b Ban) bool {
	return a.Fingerprint == b.Fingerprint && a.Name == b.Name && a.Reason == b.Reason && a.By == b.By &&
		a.ByName == b.ByName && a.Created.Equal(b.Created) && a.Until.Equal(b.Until)
}

// Refresh re-reads from the Store when the open invites close, after an
// invite was made or used elsewhere. On a Store error the wider answer
// stays (InvitesOpen may say yes too long, never no too soon).
func (c *Control) Refresh(ctx context.Context) { c.refresh(ctx) }

// Now is the Control's clock.
func (c *Control) Now() time.Time { return c.now() }
