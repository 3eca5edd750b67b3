package guard

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

type fakeAddr struct{ network, s string }

func (a fakeAddr) Network() string { return a.network }
func (a fakeAddr) String() string  { return a.s }

func TestSource(t *testing.T) {
	var nilTCP *net.TCPAddr
	tests := []struct {
		name string
		addr net.Addr
		want string
	}{
		{"ipv4", &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 22}, "203.0.113.7"},
		{"ipv4 4-byte", &net.TCPAddr{IP: net.IPv4(198, 51, 100, 1).To4()}, "198.51.100.1"},
		{"ipv4-mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:203.0.113.7")}, "203.0.113.7"},
		{"ipv6 /64", &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa:bbbb:cccc:dddd")}, "2001:db8:1:2::/64"},
		{"ipv6 same /64", &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1")}, "2001:db8:1:2::/64"},
		{"ipv6 zone", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"}, "fe80::/64"},
		{"loopback v6", &net.TCPAddr{IP: net.IPv6loopback}, "::/64"},
		{"udp", &net.UDPAddr{IP: net.ParseIP("192.0.2.1")}, "192.0.2.1"},
		{"ipaddr", &net.IPAddr{IP: net.ParseIP("192.0.2.2")}, "192.0.2.2"},
		{"tcp no ip", &net.TCPAddr{}, NonIP},
		{"typed nil", nilTCP, NonIP},
		{"nil", nil, NonIP},
		{"unix", &net.UnixAddr{Name: "/run/parley.sock", Net: "unix"}, NonIP},
		{"unix named like an ip", fakeAddr{"unix", "192.0.2.9"}, NonIP},
		{"pipe", fakeAddr{"pipe", "pipe"}, NonIP},
		{"other with hostport", fakeAddr{"tcp", "[2001:db8::5%lo]:2222"}, "2001:db8::/64"},
		{"other with ip", fakeAddr{"proxy", "192.0.2.3"}, "192.0.2.3"},
		{"other with mapped", fakeAddr{"tcp", "[::ffff:192.0.2.4]:1"}, "192.0.2.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Source(tt.addr); got != tt.want {
				t.Errorf("Source(%v) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	if got := SourceIP(netip.Addr{}); got != NonIP {
		t.Errorf("SourceIP(zero) = %q", got)
	}
}

// FuzzSourceString checks that parsing never panics, is deterministic, and
// yields either NonIP, a plain IPv4 address or an IPv6 /64 that maps to
// itself.
func FuzzSourceString(f *testing.F) {
	for _, s := range []string{"203.0.113.7:22", "[2001:db8::1]:22", "::ffff:1.2.3.4", "[fe80::1%eth0]:1", "", "pipe", "1.2.3.4", "[::]:0", "::ffff:0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SourceString(s)
		if got != SourceString(s) {
			t.Fatal("not deterministic")
		}
		if got == NonIP {
			return
		}
		if p, err := netip.ParsePrefix(got); err == nil {
			if !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() != 64 || p != p.Masked() {
				t.Fatalf("SourceString(%q) = %q: not a masked IPv6 /64", s, got)
			}
			if SourceIP(p.Addr()) != got {
				t.Fatalf("SourceString(%q) = %q is not its own source", s, got)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || !a.Is4() || strings.Contains(got, "/") {
			t.Fatalf("SourceString(%q) = %q: not NonIP, IPv4 or IPv6/64", s, got)
		}
		if SourceIP(a) != got {
			t.Fatalf("SourceString(%q) = %q is not its own source", s, got)
		}
	})
}

func BenchmarkSource(b *testing.B) {
	a := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 22}
	for b.Loop() {
		_ = Source(a)
	}
}
