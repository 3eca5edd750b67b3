package guard

import (
	"net"
	"net/netip"
	"strings"
)

// NonIP is the Source of every address that is not an IP address (a Unix
// socket, an in-memory pipe, nil). They share one key, so behind a proxy that
// hides client addresses all clients count as one source: use the PROXY
// protocol so that the remote address is the client's.
const NonIP = "non-ip"

// ipv6Prefix is the IPv6 prefix length treated as one source: a /64 is what a
// single subscriber or host is commonly given, so counting /128s would let
// one host use 2^64 addresses.
const ipv6Prefix = 64

// Source returns the accounting key of a remote address: the IPv4 address
// ("203.0.113.7"), or the /64 prefix of an IPv6 address ("2001:db8:1:2::/64").
// IPv4-mapped IPv6 addresses count as IPv4 and zones are ignored. Addresses
// that are not IP (see NonIP) share one key.
func Source(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a == nil {
			return NonIP
		}
		return sourceIP(a.IP)
	case *net.UDPAddr:
		if a == nil {
			return NonIP
		}
		return sourceIP(a.IP)
	case *net.IPAddr:
		if a == nil {
			return NonIP
		}
		return sourceIP(a.IP)
	case nil:
		return NonIP
	}
	if strings.HasPrefix(a.Network(), "unix") {
		return NonIP
	}
	return SourceString(a.String())
}

// SourceString is Source for an address in text form: "host:port" as
// net.Addr.String gives it, or a bare IP address. Anything else is NonIP.
func SourceString(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return SourceIP(ap.Addr())
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return SourceIP(ip)
	}
	return NonIP
}

// SourceIP is Source for a netip.Addr; the zero Addr is NonIP.
func SourceIP(ip netip.Addr) string {
	if !ip.IsValid() {
		return NonIP
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(ipv6Prefix)
	if err != nil { // not reachable for a valid, unzoned IPv6 address
		return NonIP
	}
	return p.String()
}

func sourceIP(ip net.IP) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return NonIP
	}
	return SourceIP(a)
}
