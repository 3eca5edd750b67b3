package guard

import (
	"strings"
	"unicode/utf8"
)

// EnvPolicy bounds the environment a client sends with "env" requests. Zero
// fields take the defaults: 32 variables, 1 KiB per KEY=VALUE, 8 KiB in all.
type EnvPolicy struct {
	MaxVars       int
	MaxVarBytes   int
	MaxTotalBytes int
}

// Defaults of EnvPolicy.
const (
	DefaultEnvMaxVars       = 32
	DefaultEnvMaxVarBytes   = 1 << 10
	DefaultEnvMaxTotalBytes = 8 << 10
)

func (p EnvPolicy) withDefaults() EnvPolicy {
	if p.MaxVars <= 0 {
		p.MaxVars = DefaultEnvMaxVars
	}
	if p.MaxVarBytes <= 0 {
		p.MaxVarBytes = DefaultEnvMaxVarBytes
	}
	if p.MaxTotalBytes <= 0 {
		p.MaxTotalBytes = DefaultEnvMaxTotalBytes
	}
	return p
}

// FilterEnv is EnvPolicy{MaxVars: maxVars, MaxVarBytes: maxBytes}.Filter(env):
// maxBytes bounds each KEY=VALUE, and the total is the default 8 KiB.
func FilterEnv(env []string, maxVars, maxBytes int) (kept []string, dropped int) {
	return EnvPolicy{MaxVars: maxVars, MaxVarBytes: maxBytes}.Filter(env)
}

// Filter returns the well-formed variables of env within the policy, in
// their order, and how many entries it dropped. A variable is kept if it is
// KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]*, VALUE is valid UTF-8
// without control characters (tab excepted), and it fits in MaxVarBytes.
// When a key repeats, the later value replaces the earlier one in place (as
// os/exec does) if the total still fits. Once MaxVars keys or MaxTotalBytes
// are used, later variables are dropped: first come, first kept.
func (p EnvPolicy) Filter(env []string) (kept []string, dropped int) {
	p = p.withDefaults()
	index := make(map[string]int, min(len(env), p.MaxVars)) // key -> position in kept; at most MaxVars keys
	total := 0
	for _, kv := range env {
		key, ok := p.valid(kv)
		if !ok {
			dropped++
			continue
		}
		if i, dup := index[key]; dup {
			if total-len(kept[i])+len(kv) > p.MaxTotalBytes {
				dropped++
				continue
			}
			total += len(kv) - len(kept[i])
			kept[i] = kv
			dropped++ // the earlier value
			continue
		}
		if len(kept) >= p.MaxVars || total+len(kv) > p.MaxTotalBytes {
			dropped++
			continue
		}
		index[key] = len(kept)
		kept = append(kept, kv)
		total += len(kv)
	}
	return kept, dropped
}

// Budget returns an EnvBudget that applies p to env requests one at a time,
// as they arrive, before they are stored.
func (p EnvPolicy) Budget() *EnvBudget { return &EnvBudget{p: p.withDefaults()} }

// EnvBudget bounds the env requests of one session as they arrive, so that a
// client cannot make the server store an unbounded environment before the
// session starts. Every accepted request counts, repeated keys included;
// Filter the final environment to settle duplicates. An EnvBudget belongs to
// one session's request loop and is not safe for concurrent use.
type EnvBudget struct {
	p     EnvPolicy
	vars  int
	bytes int
}

// Allow reports whether an env request for key and value is well formed and
// within the budget, and if so counts it.
func (b *EnvBudget) Allow(key, value string) bool {
	n := len(key) + 1 + len(value)
	if b.vars >= b.p.MaxVars || n > b.p.MaxVarBytes || b.bytes+n > b.p.MaxTotalBytes ||
		!validKey(key) || !validValue(value) {
		return false
	}
	b.vars++
	b.bytes += n
	return true
}

func (p EnvPolicy) valid(kv string) (key string, ok bool) {
	if len(kv) > p.MaxVarBytes {
		return "", false
	}
	key, value, ok := strings.Cut(kv, "=")
	if !ok || !validKey(key) || !validValue(value) {
		return "", false
	}
	return key, true
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func validValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if (r < 0x20 && r != '\t') || (0x7f <= r && r < 0xa0) {
			return false
		}
	}
	return true
}
