package main

import (
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// minimums are the lowest module versions without a known advisory that
// affects parley. The Go vulnerability database cannot be reached from where
// parley is built, so this list stands in for govulncheck: raise a minimum
// when an advisory is published, and say which one.
var minimums = []struct{ module, version, advisory string }{
	{"golang.org/x/crypto", "v0.59.0", "the 2026 x/crypto/ssh advisories (server-side handshake and auth fixes); v0.59.0 is the newest release that resolves here"},
	{"charm.land/wish/v2", "v2.0.5", "the wish SCP middleware path traversal fixed in v2.0.1 (parley does not mount scp, but keeps the fix), and the v2.0.5 release parley is tested on"},
	{"charm.land/ssh", "v0.4.3", "the cross-account public-key authentication fix of v0.4.2 (permissions leaking between keys); v0.4.3 comes with wish v2.0.5"},
	{"modernc.org/sqlite", "v1.62.0", "no published advisory: the newest release that resolves here, kept as the floor because client text (messages, names, search queries) reaches SQLite"},
	{"github.com/nats-io/nats.go", "v1.56.0", "no published advisory: the version the cluster mode (--nats, natslog) is tested with, kept as the floor because it parses what NATS servers send"},
	{"github.com/go-webauthn/webauthn", "v0.18.2", "no published advisory: the version the passkeys (issue 17) are tested with, kept as the floor because it parses attestations and assertions that browsers send"},
	{"github.com/pires/go-proxyproto", "v0.6.1", "CVE-2021-23351 (unbounded v1 header read) and CVE-2021-23409 (connections without a header hang); it parses PROXY headers from the network"},
}

func TestDependenciesAreAboveKnownAdvisories(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info in the test binary")
	}
	have := map[string]string{}
	for _, d := range info.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
		}
		have[d.Path] = v
	}
	for _, m := range minimums {
		v, ok := have[m.module]
		if !ok {
			t.Errorf("%s is not in the build; update this test if it was replaced", m.module)
			continue
		}
		if semverLess(v, m.version) {
			t.Errorf("%s %s is older than %s, which fixes %s", m.module, v, m.version, m.advisory)
		}
	}
}

// semverLess compares vMAJOR.MINOR.PATCH versions (pre-release suffixes
// count as older than the release).
func semverLess(a, b string) bool {
	pa, pb := semverParts(a), semverParts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return strings.Contains(a, "-") && !strings.Contains(b, "-")
}

func semverParts(v string) [3]int {
	var out [3]int
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	for i, p := range strings.SplitN(v, ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}

func TestSemverLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"v0.55.9", "v0.56.0", true},
		{"v0.56.0", "v0.56.0", false},
		{"v0.58.0", "v0.56.0", false},
		{"v2.0.0", "v2.0.1", true},
		{"v0.56.0-rc1", "v0.56.0", true},
		{"v1.10.0", "v1.9.0", false},
	} {
		if got := semverLess(c.a, c.b); got != c.less {
			t.Errorf("semverLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
