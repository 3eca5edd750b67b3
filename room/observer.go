package room

import "time"

// Observer is told what happens in the rooms, for metrics. Its methods are
// called from hot paths, some with Hub.mu held: they must be fast and must
// never block or call back into the Hub. Labels are bounded sets (kinds,
// command names from the registry, fixed reasons), never user text.
type Observer interface {
	// MessageStored counts messages committed to a room, by kind.
	MessageStored(kind Kind, n int)
	// MessageRefused counts messages not delivered, by a fixed reason
	// ("store", "empty", "rate", "muted"), and "delayed" for a message the
	// rate limit held back from a sender that waits and sends it again
	// (Session.WaitOnRate): that one is delivered later, not refused.
	MessageRefused(reason string)
	// SessionDropped counts sessions the hub ended itself, by a fixed
	// reason ("slow", "kicked", "revoked").
	SessionDropped(reason string)
	// StoreLatency observes one Log.Append of a batch (with the default
	// Log, the History.Append under it).
	StoreLatency(d time.Duration, batch int, err error)
	// CommandRun counts a command by its registered name.
	CommandRun(name string)
}

// NopObserver counts nothing; it is used when Config.Observer is nil.
type NopObserver struct{}

func (NopObserver) MessageStored(Kind, int)                {}
func (NopObserver) MessageRefused(string)                  {}
func (NopObserver) SessionDropped(string)                  {}
func (NopObserver) StoreLatency(time.Duration, int, error) {}
func (NopObserver) CommandRun(string)                      {}

var _ Observer = NopObserver{}
