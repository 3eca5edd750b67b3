package deploy_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// parseTOML reads the subset of TOML that fly.toml uses: comments, [tables],
// [[arrays of tables]], dotted table names, and key = value with strings,
// integers, floats, booleans and one-line arrays of those. It is strict about
// what it does not understand, so a construct outside the subset fails the
// test rather than being misread. (No TOML library is in the module graph,
// and adding one for a test is not worth a dependency.)
func parseTOML(src string) (map[string]any, error) {
	root := map[string]any{}
	cur := root
	for n, raw := range strings.Split(src, "\n") {
		line := strings.TrimSpace(stripComment(raw))
		if line == "" {
			continue
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d %q: %s", n+1, raw, fmt.Sprintf(format, a...))
		}
		switch {
		case strings.HasPrefix(line, "[["):
			if !strings.HasSuffix(line, "]]") {
				return nil, fail("unterminated array-of-tables header")
			}
			path := splitKey(line[2 : len(line)-2])
			parent, err := descend(root, path[:len(path)-1])
			if err != nil {
				return nil, fail("%v", err)
			}
			last := path[len(path)-1]
			arr, _ := parent[last].([]map[string]any)
			if _, exists := parent[last]; exists && arr == nil {
				return nil, fail("%s is not an array of tables", last)
			}
			cur = map[string]any{}
			parent[last] = append(arr, cur)
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				return nil, fail("unterminated table header")
			}
			t, err := descend(root, splitKey(line[1:len(line)-1]))
			if err != nil {
				return nil, fail("%v", err)
			}
			cur = t
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fail("want key = value")
			}
			key := strings.TrimSpace(k)
			if key == "" || strings.ContainsAny(key, " .\"'") {
				return nil, fail("unsupported key %q", key)
			}
			if _, dup := cur[key]; dup {
				return nil, fail("duplicate key %q", key)
			}
			val, err := parseValue(strings.TrimSpace(v))
			if err != nil {
				return nil, fail("%v", err)
			}
			cur[key] = val
		}
	}
	return root, nil
}

// descend walks (creating) nested tables; an array of tables stands for its
// last element, as in TOML.
func descend(t map[string]any, path []string) (map[string]any, error) {
	for _, p := range path {
		switch next := t[p].(type) {
		case nil:
			m := map[string]any{}
			t[p] = m
			t = m
		case map[string]any:
			t = next
		case []map[string]any:
			t = next[len(next)-1]
		default:
			return nil, fmt.Errorf("%s is a value, not a table", p)
		}
	}
	return t, nil
}

func splitKey(s string) []string {
	parts := strings.Split(s, ".")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// stripComment drops a # comment that is not inside a string.
func stripComment(s string) string {
	var quote rune
	escaped := false
	for i, r := range s {
		switch {
		case escaped:
			escaped = false
		case quote == '"' && r == '\\':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#':
			return s[:i]
		}
	}
	return s
}

func parseValue(s string) (any, error) {
	switch {
	case s == "":
		return nil, fmt.Errorf("missing value")
	case s == "true":
		return true, nil
	case s == "false":
		return false, nil
	case strings.HasPrefix(s, `"`):
		if strings.HasPrefix(s, `"""`) {
			return nil, fmt.Errorf("multi-line strings are not supported")
		}
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("string %s: %v", s, err)
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") || strings.Count(s, "'") != 2 {
			return nil, fmt.Errorf("literal string %s", s)
		}
		return s[1 : len(s)-1], nil
	case strings.HasPrefix(s, "["):
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("arrays must fit on one line")
		}
		var out []any
		for _, item := range splitTop(s[1 : len(s)-1]) {
			item = strings.TrimSpace(item)
			if item == "" {
				continue // trailing comma
			}
			v, err := parseValue(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case strings.HasPrefix(s, "{"):
		return nil, fmt.Errorf("inline tables are not supported")
	}
	clean := strings.ReplaceAll(s, "_", "")
	if i, err := strconv.ParseInt(clean, 10, 64); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(clean, 64); err == nil {
		return f, nil
	}
	return nil, fmt.Errorf("unsupported value %s", s)
}

// splitTop splits an array body on commas outside strings.
func splitTop(s string) []string {
	var out []string
	var quote rune
	start := 0
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestParseTOMLSubset(t *testing.T) {
	doc, err := parseTOML(`
app = "x" # comment
n = 1_000
ok = false
hash = "a \" # not a comment" # but this is
list = ["a", 'b', 3,]
[a.b]
  c = 'lit'
[[s]]
  p = 1
  [[s.ports]]
    port = 22
  [[s.ports]]
    port = 2222
[[s]]
  p = 2
`)
	if err != nil {
		t.Fatal(err)
	}
	if doc["app"] != "x" || doc["n"] != int64(1000) || doc["ok"] != false || doc["hash"] != `a " # not a comment` {
		t.Errorf("scalars: %#v", doc)
	}
	if l := doc["list"].([]any); len(l) != 3 || l[1] != "b" || l[2] != int64(3) {
		t.Errorf("list: %#v", l)
	}
	if doc["a"].(map[string]any)["b"].(map[string]any)["c"] != "lit" {
		t.Errorf("nested: %#v", doc["a"])
	}
	s := doc["s"].([]map[string]any)
	if len(s) != 2 || len(s[0]["ports"].([]map[string]any)) != 2 || s[1]["p"] != int64(2) {
		t.Errorf("arrays of tables: %#v", s)
	}
	for _, bad := range []string{"a = ", "a = {x = 1}", "[t\n", "a = 1\na = 2", "x = nope", "a.b = 1"} {
		if _, err := parseTOML(bad); err == nil {
			t.Errorf("parseTOML(%q): want an error", bad)
		}
	}
}
