package web

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClientAddressBehindATrustedProxy(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies trusted: the header is ignored", "10.1.2.3:5000", []string{"203.0.113.9"}, nil, "10.1.2.3"},
		{"an untrusted peer's header is ignored", "198.51.100.1:5000", []string{"203.0.113.9"}, proxies, "198.51.100.1"},
		{"a trusted proxy's client", "10.1.2.3:5000", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
		{"a client's own hops to the left prove nothing", "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.9"}, proxies, "203.0.113.9"},
		{"trusted hops are skipped", "10.1.2.3:5000", []string{"203.0.113.9, 192.0.2.7", "10.9.9.9"}, proxies, "203.0.113.9"},
		{"a single address is trusted", "192.0.2.7:1", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
		{"all hops trusted: the leftmost", "10.1.2.3:5000", []string{"10.0.0.1, 10.0.0.2"}, proxies, "10.0.0.1"},
		{"no header: the proxy", "10.1.2.3:5000", nil, proxies, "10.1.2.3"},
		{"garbage: stop at the last readable hop", "10.1.2.3:5000", []string{"203.0.113.9, not-an-ip, 10.0.0.5"}, proxies, "10.0.0.5"},
		{"IPv6 with brackets and a port", "[fd00::1]:443", []string{"[2001:db8::5]:1234"}, proxies, "2001:db8::5"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:80", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{TrustedProxies: tc.trusted}}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientIP(r); got != tc.want {
				t.Errorf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8,,nope"} {
		if _, err := ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), "CIDR") {
			t.Errorf("ParseTrustedProxies(%q) = %v, want an error naming the form", bad, err)
		}
	}
	if p, err := ParseTrustedProxies(" , "); err != nil || len(p) != 0 {
		t.Errorf("an empty list: %v, %v", p, err)
	}
}

// signInFrom makes one sign-in attempt with a guessed token through a peer
// address and X-Forwarded-For, returning the status.
func signInFrom(w *Server, base, peer, xff string) int {
	req := httptest.NewRequest(http.MethodPost, base+"/api/signin", strings.NewReader(`{"token":"guess"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	req.RemoteAddr = peer
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, req)
	return rec.Code
}

func TestSignInLimitPerClientBehindATrustedProxy(t *testing.T) {
	const base = "https://chat.example.com"
	proxy := "10.0.0.2:40000"
	for _, tc := range []struct {
		name    string
		trusted string
		// whether a second client behind the proxy still gets through
		// once the first is limited
		separate bool
	}{
		{"not trusted by default: one limit for everyone behind the proxy", "", false},
		{"trusted: each client has its own limit", "10.0.0.0/24", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTrustedProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			w, err := New(Config{Hub: newHub(t), Identities: newIdents(), PublicURL: base, TrustedProxies: p})
			if err != nil {
				t.Fatal(err)
			}
			for i := range signInBurst {
				if code := signInFrom(w, base, proxy, "203.0.113.1"); code != http.StatusUnauthorized {
					t.Fatalf("attempt %d of the first client: %d, want 401", i+1, code)
				}
			}
			if code := signInFrom(w, base, proxy, "203.0.113.1"); code != http.StatusTooManyRequests {
				t.Fatalf("the first client past the burst: %d, want 429", code)
			}
			code := signInFrom(w, base, proxy, "203.0.113.2")
			if got := code != http.StatusTooManyRequests; got != tc.separate {
				t.Fatalf("a second client behind the proxy: %d (separate limit %v, want %v)", code, got, tc.separate)
			}
			// A client that sends its own header straight to the server
			// does not escape its limit.
			for range signInBurst + 1 {
				signInFrom(w, base, "198.51.100.7:1", "")
			}
			if code := signInFrom(w, base, "198.51.100.7:1", "203.0.113.99"); code != http.StatusTooManyRequests {
				t.Errorf("a direct client with a made-up X-Forwarded-For: %d, want 429", code)
			}
		})
	}
}

func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "1.1.1.1, 203.0.113.9", "[2001:db8::5]:1234", "not-an-ip, 10.0.0.1", ",,,", "", "::ffff:10.0.0.1"} {
		f.Add("10.1.2.3:5000", s)
	}
	proxies, _ := ParseTrustedProxies("10.0.0.0/8,fd00::/8")
	s := &Server{cfg: Config{TrustedProxies: proxies}}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := s.clientIP(r)
		host := peer
		if h, _, err := net.SplitHostPort(peer); err == nil {
			host = h
		}
		if a, err := netip.ParseAddr(host); err != nil || !s.trusted(a) {
			if got != host {
				t.Fatalf("untrusted peer %q: clientIP %q, want the peer", peer, got)
			}
			return
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("clientIP %q from a trusted peer is not an address", got)
		}
	})
}

func TestAgentSummary(t *testing.T) {
	for ua, want := range map[string]string{
		"": "unknown browser",
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0":                                                        "Firefox on Linux",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":         "Safari on macOS",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36":         "Chrome on Android",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0": "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148":     "Chrome on iPhone",
		"curl/8.5.0":                "curl",
		"<script>alert(1)</script>": "a browser",
	} {
		if got := agentSummary(ua); got != want {
			t.Errorf("agentSummary(%q) = %q, want %q", ua, got, want)
		}
	}
}

func FuzzAgentSummary(f *testing.F) {
	for _, s := range []string{"", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "\x00\xff<b>", "Chrome/1 Android"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := agentSummary(ua)
		if got == "" || len(got) > maxAgentSummary || !utf8.ValidString(got) {
			t.Fatalf("agentSummary(%q) = %q", ua, got)
		}
		for _, r := range got {
			if r < ' ' || r > '~' {
				t.Fatalf("agentSummary(%q) = %q: not printable ASCII", ua, got)
			}
		}
	})
}
