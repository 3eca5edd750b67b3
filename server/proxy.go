package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"
)

// PROXY protocol (Config.ProxyProtocol): behind a TCP proxy (Fly's
// proxy_proto handler, HAProxy, nginx stream, a cloud load balancer) every
// connection comes from the proxy's address, so every per-address rule
// (the unauthenticated caps, the failed-login penalty, the session cap per
// source, from= key options) would apply to all clients together. The proxy
// opens each connection with a PROXY header (v1 text or v2 binary) naming
// the client; github.com/pires/go-proxyproto reads it.
//
//   - A peer in the trusted ranges must send a header: the connection's
//     remote address is the client's from then on (logs, the gate, key
//     from= options, metrics of refusals).
//   - Any other peer's header is refused, never believed: its connection
//     fails before the SSH version exchange.
//   - Without Config.ProxyProtocol no header is parsed at all (x/crypto
//     skips a v1 line as a pre-version comment; the address stays the
//     peer's).

// proxyHeaderTimeout bounds the wait for a trusted proxy's header, which a
// proxy sends as soon as it connects.
const proxyHeaderTimeout = 5 * time.Second

// parseTrusted parses the trusted proxy ranges: IP addresses or CIDR
// prefixes.
func parseTrusted(ranges []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, r := range ranges {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if p, err := netip.ParsePrefix(r); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(r)
		if err != nil {
			return nil, fmt.Errorf("proxy protocol: %q is not an IP address or CIDR range", r)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	if len(out) == 0 {
		return nil, errors.New("proxy protocol: no trusted proxy address or range given")
	}
	return out, nil
}

// proxyTrust answers whether a peer may send a PROXY header.
type proxyTrust []netip.Prefix

func (t proxyTrust) trusted(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range t {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// policy is the go-proxyproto connection policy: trusted peers must send a
// header (REQUIRE), other peers must not (REJECT).
func (t proxyTrust) policy(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
	if t.trusted(o.Upstream) {
		return proxyproto.REQUIRE, nil
	}
	return proxyproto.REJECT, nil
}

// proxyListener wraps ln so that each connection's header is read under
// the trust policy.
func (s *Server) proxyListener(ln net.Listener) net.Listener {
	return &proxyproto.Listener{Listener: ln, ConnPolicy: s.proxy.policy, ReadHeaderTimeout: proxyHeaderTimeout}
}

// proxiedAddr returns the address a connection counts as, before the
// gate. A trusted proxy's connection is the client's address from its
// header; if the header is missing or bad, ok is false and the connection
// must be refused. Another peer's connection is its own address, read
// without waiting for any byte: a header from it fails the handshake's
// first read or write (proxyproto.ErrSuperfluousProxyHeader), see
// gatedConn.Read.
func (s *Server) proxiedAddr(conn net.Conn) (addr net.Addr, ok bool) {
	pc, isProxied := conn.(*proxyproto.Conn)
	if !isProxied {
		return conn.RemoteAddr(), true
	}
	peer := pc.Raw().RemoteAddr()
	if !s.proxy.trusted(peer) {
		return peer, true
	}
	addr = pc.RemoteAddr() // reads the header, within proxyHeaderTimeout
	if _, err := pc.Read(nil); err != nil {
		level := slog.LevelInfo
		if errors.Is(err, proxyproto.ErrNoProxyProtocol) {
			level = slog.LevelDebug // most often a TCP health check: connect, close
		}
		s.log.Log(context.Background(), level, "connection refused: no valid PROXY header from a trusted proxy", "proxy", peer.String(), "err", err.Error())
		s.conns.ConnectionRefused("proxy")
		return peer, false
	}
	if h := pc.ProxyHeader(); h != nil && !h.Command.IsLocal() {
		s.log.Debug("PROXY header", "proxy", peer.String(), "client", addr.String(), "version", h.Version)
	}
	return addr, true
}
