// Package ops is parley's operations side: Prometheus metrics and the ops
// HTTP listener that serves them with health and readiness checks.
//
// Metrics owns a private registry (never the global default) and implements
// room.Observer, so the hub reports what happens in the rooms without knowing
// about Prometheus; the SSH server reports connections and authentication
// through ConnectionOpened, AuthResult and ConnectionRefused, and the
// connection gate's tables through WatchGate (read at scrape time). Labels
// are bounded sets (message kinds, fixed reasons, registered command names),
// never user text or addresses.
//
// Server serves /metrics, /healthz, /readyz and, only when asked, pprof under
// /debug/pprof/. It is meant for a loopback or private address: it has no
// authentication. Healthcheck is the client side of /healthz, for
// `parley healthcheck` and a container HEALTHCHECK.
//
// The package knows nothing of SSH, keys or the store: readiness is a
// function the caller supplies.
package ops
