package keys

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
	"time"

	"parley/safetext"
)

// options are the parsed options of one line.
type options struct {
	admin   bool
	hasName bool
	name    string
	expires time.Time
	from    []string
}

// noopOptions are OpenSSH restrictions that parley enforces anyway.
var noopOptions = map[string]bool{
	"restrict":            true,
	"no-port-forwarding":  true,
	"no-agent-forwarding": true,
	"no-x11-forwarding":   true,
	"no-user-rc":          true,
}

// refusedOptions are OpenSSH options that parley cannot honour. They refuse
// their line instead of being ignored.
var refusedOptions = map[string]bool{
	"command":           true,
	"environment":       true,
	"permitopen":        true,
	"permitlisten":      true,
	"tunnel":            true,
	"pty":               true,
	"no-pty":            true,
	"cert-authority":    true,
	"principals":        true,
	"agent-forwarding":  true,
	"port-forwarding":   true,
	"x11-forwarding":    true,
	"user-rc":           true,
	"no-touch-required": true,
	"verify-required":   true,
}

const supportedOptions = `admin, name="...", expiry-time="...", from="...", restrict, no-port-forwarding, no-agent-forwarding, no-X11-forwarding, no-user-rc`

// parseOptions parses a comma-separated OpenSSH options field. Option names
// are case-insensitive; values must be double-quoted, with \" for a quote.
func parseOptions(field string) (options, error) {
	var o options
	if field == "" {
		return o, nil
	}
	seen := map[string]bool{}
	for _, opt := range splitOptions(field) {
		rawName, rawValue, hasValue := strings.Cut(opt, "=")
		name := strings.ToLower(rawName)
		switch {
		case name == "":
			return o, errors.New("empty option in the options field (two commas in a row, or a leading comma?)")
		case refusedOptions[name]:
			return o, fmt.Errorf("option %s is not supported by parley; remove it to allow this key", quote(name))
		case !noopOptions[name] && name != "admin" && name != "name" && name != "expiry-time" && name != "from":
			return o, fmt.Errorf("unknown option %s (parley understands %s); remove it to allow this key", quote(rawName), supportedOptions)
		case seen[name]:
			return o, fmt.Errorf("option %s is given twice; keep one", quote(name))
		}
		seen[name] = true

		takesValue := name == "name" || name == "expiry-time" || name == "from"
		if takesValue != hasValue {
			if takesValue {
				return o, fmt.Errorf(`option %s needs a value: %s="..."`, name, name)
			}
			return o, fmt.Errorf("option %s takes no value; write just %s", name, name)
		}
		var value string
		if hasValue {
			v, err := dequote(rawValue)
			if err != nil {
				return o, fmt.Errorf("option %s: %v", name, err)
			}
			value = v
		}

		switch name {
		case "admin":
			o.admin = true
		case "name":
			if err := safetext.ValidateName(value); err != nil {
				return o, fmt.Errorf("name=%s is not a valid name: %v", quote(value), err)
			}
			o.hasName, o.name = true, value
		case "expiry-time":
			t, err := parseExpiry(value)
			if err != nil {
				return o, err
			}
			o.expires = t
		case "from":
			pats, err := parseFromList(value)
			if err != nil {
				return o, err
			}
			o.from = pats
		}
	}
	return o, nil
}

// splitOptions splits at commas outside double quotes (\" never toggles).
func splitOptions(field string) []string {
	var out []string
	quoted := false
	start := 0
	for i := 0; i < len(field); i++ {
		switch c := field[i]; {
		case c == '\\' && i+1 < len(field) && field[i+1] == '"':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, field[start:i])
			start = i + 1
		}
	}
	return append(out, field[start:])
}

// dequote removes the double quotes around an option value and turns \" into ".
func dequote(v string) (string, error) {
	if len(v) < 2 || v[0] != '"' {
		return "", errors.New(`value must be in double quotes, e.g. name="alice"`)
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && v[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if c == '"' {
			if i != len(v)-1 {
				return "", fmt.Errorf("unexpected text %s after the closing quote", quote(v[i+1:]))
			}
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return "", errors.New("value has no closing double quote")
}

// parseExpiry parses OpenSSH's YYYYMMDD[HHMM[SS]] with an optional trailing
// Z. parley always reads it as UTC (OpenSSH uses local time without the Z).
func parseExpiry(v string) (time.Time, error) {
	s := strings.TrimSuffix(strings.TrimSuffix(v, "Z"), "z")
	layout := ""
	switch len(s) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	}
	digits := strings.Trim(s, "0123456789") == ""
	if layout != "" && digits {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expiry-time=%s is not a valid date; use YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS (UTC), e.g. expiry-time=\"20301231\"", quote(v))
}

// addrPattern is one compiled from= pattern.
type addrPattern struct {
	neg    bool
	prefix netip.Prefix // valid for an address or a CIDR network
	wild   string       // lower-case wildcard pattern otherwise
}

// parseFromList validates an OpenSSH from= pattern list and returns its
// patterns. parley matches only IP addresses, so host name patterns are
// refused.
func parseFromList(v string) ([]string, error) {
	if v == "" {
		return nil, errors.New(`from="" allows no address; remove the option or list addresses`)
	}
	pats := strings.Split(v, ",")
	for _, p := range pats {
		if _, err := compilePattern(p); err != nil {
			return nil, err
		}
	}
	return pats, nil
}

func compilePattern(p string) (addrPattern, error) {
	body, neg := strings.CutPrefix(p, "!")
	if body == "" {
		return addrPattern{}, fmt.Errorf("from=: empty pattern in %s", quote(p))
	}
	if strings.Contains(body, "/") {
		pfx, err := netip.ParsePrefix(body)
		if err != nil {
			return addrPattern{}, fmt.Errorf("from=: %s is not a valid CIDR network like 10.0.0.0/8 or 2001:db8::/32", quote(body))
		}
		if pfx != pfx.Masked() {
			return addrPattern{}, fmt.Errorf("from=: network %s has host bits set; did you mean %s?", quote(body), pfx.Masked())
		}
		return addrPattern{neg: neg, prefix: pfx}, nil
	}
	if a, err := netip.ParseAddr(body); err == nil {
		if a.Zone() != "" {
			return addrPattern{}, fmt.Errorf("from=: address %s has a zone, which parley does not match; remove the %%zone", quote(body))
		}
		a = a.Unmap()
		return addrPattern{neg: neg, prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	lower := strings.ToLower(body)
	allowed := "0123456789.*?"
	if strings.Contains(lower, ":") {
		allowed += ":abcdef"
	}
	if strings.Trim(lower, allowed) == "" {
		return addrPattern{neg: neg, wild: lower}, nil
	}
	if strings.ContainsFunc(lower, func(r rune) bool { return r >= 'a' && r <= 'z' }) {
		return addrPattern{}, fmt.Errorf("from=: %s looks like a host name; parley matches only IP addresses, not host names (use an address, a wildcard like 192.168.1.* or a network like 10.0.0.0/8)", quote(body))
	}
	return addrPattern{}, fmt.Errorf("from=: %s is not an IP address, wildcard or CIDR network", quote(body))
}

// matchFrom applies OpenSSH from= semantics to ip: a matching negated
// pattern denies, otherwise any matching pattern allows.
func matchFrom(patterns []string, ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	s := a.String()
	allowed := false
	for _, p := range patterns {
		c, err := compilePattern(p)
		if err != nil {
			return false // not produced by Parse; deny rather than guess
		}
		var hit bool
		if c.wild != "" {
			hit, _ = path.Match(c.wild, s)
		} else {
			hit = c.prefix.Contains(a)
		}
		if hit && c.neg {
			return false
		}
		allowed = allowed || hit
	}
	return allowed
}
