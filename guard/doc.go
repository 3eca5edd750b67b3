// Package guard holds parley's defences against floods and brute force that
// the Go SSH stack does not provide by default. It is pure accounting: it
// counts network sources, keys (as opaque string IDs) and time, and answers
// "may this happen now?".
//
//   - Source maps a remote address to the key used for per-address
//     accounting: the IPv4 address, or the /64 prefix of an IPv6 address.
//   - Gate admits connections before authentication: a cap in total and per
//     source, early random drop as the unauthenticated load rises (OpenSSH
//     MaxStartups style), and growing, expiring penalties for sources whose
//     logins keep failing (a trickle of one connection every few seconds, so
//     a valid key behind the same address still gets in), in a bounded
//     table. Each admitted connection holds a Ticket until it authenticates
//     or closes.
//   - Sessions caps concurrent sessions per key and per source; the same type
//     (NewConnections) caps authenticated connections per key.
//   - Limiter is a per-identity token bucket in a bounded table, for chat
//     messages and, as a second instance, for join and leave notices.
//   - EnvPolicy bounds the environment a client may send.
//
// guard knows nothing of SSH, rooms or terminals, and starts no goroutines:
// every type takes a Now function so tests drive it with a fake clock, and
// expired state is dropped lazily by the calls that touch it. Every table is
// bounded; none grows with the number of sources or identities ever seen.
// The server package wires the connection limits into the SSH hooks; the
// composition root (app) gives the Limiters to the hub.
//
// Each stateful type owns its state behind one unexported mutex, never held
// while calling out to anything but its Now and Rand functions.
package guard
