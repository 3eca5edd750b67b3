package server

import (
	"sync"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// liveConns knows the authenticated connections of each key, so that a key
// removed from authorized_keys, or whose expiry-time passed, loses every
// connection at once: those that hold chat or exec sessions (the hub
// disconnects those) and those that never opened one. Its own mutex guards
// the map; it is taken by the SSH handshake goroutines (add), the
// connections' closers (the release funcs) and keysChanged (closeKeys), and
// never held while closing a connection.
type liveConns struct {
	mu    sync.Mutex
	byKey map[string]map[ssh.Context]struct{} // fingerprint -> its connections' contexts
}

// add records ctx as a connection of the key fingerprint and returns the
// func that forgets it (called once, when the connection closes).
func (l *liveConns) add(fingerprint string, ctx ssh.Context) (forget func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey == nil {
		l.byKey = map[string]map[ssh.Context]struct{}{}
	}
	if l.byKey[fingerprint] == nil {
		l.byKey[fingerprint] = map[ssh.Context]struct{}{}
	}
	l.byKey[fingerprint][ctx] = struct{}{}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.byKey[fingerprint], ctx)
		if len(l.byKey[fingerprint]) == 0 {
			delete(l.byKey, fingerprint)
		}
	}
}

// closeUnless closes every connection of every key for which allowed
// returns false, and returns how many it closed.
func (l *liveConns) closeUnless(allowed func(fingerprint string) bool) int {
	var doomed []gossh.Conn
	l.mu.Lock()
	for fp, ctxs := range l.byKey {
		if allowed(fp) {
			continue
		}
		for ctx := range ctxs {
			if c, ok := ctx.Value(ssh.ContextKeyConn).(gossh.Conn); ok {
				doomed = append(doomed, c)
			}
		}
	}
	l.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
	return len(doomed)
}
