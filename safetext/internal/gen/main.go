// Command gen writes safetext/confusables_table.go, the tables behind
// safetext.Skeleton and safetext.Fold, from the Unicode confusables data
// (UTS #39, confusables.txt) as a package ships it in JSON.
//
// It is run by go generate in the safetext directory (the //go:generate line
// is in safetext/skeleton.go):
//
//	cd safetext && go generate
//
// The data file, its source and its version are flags, so that the table can
// be regenerated from a newer file without touching this program. Two JSON
// layouts are read:
//
//   - npm package unhomoglyph, data.json: {"source": "prototype", ...}, one
//     entry per line of confusables.txt (the committed input, see
//     testdata/unhomoglyph-1.0.6/README.md);
//   - Debian package python3-confusable-homoglyphs, confusables.json:
//     {"char": [{"c": "partner", "n": "NAME"}, ...]}, each line of
//     confusables.txt recorded in both directions. The direction is
//     recovered (a source has exactly one partner; a prototype may have
//     many); it only matters for Skeleton's choice of prototype when a
//     prototype has a single source.
//
// Output depends only on the data file, on the Go toolchain's case tables
// (unicode.SimpleFold) and on golang.org/x/text's normalization tables, all
// of which are pinned by go.mod; the Unicode version of both is written in
// the output.
package main

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	dataPath := flag.String("data", "", "confusables JSON file (unhomoglyph data.json or confusable_homoglyphs confusables.json)")
	source := flag.String("source", "", "where the data file comes from: package, version and file, written in the output")
	version := flag.String("version", "", "version of Unicode's confusables.txt the data file was made from")
	out := flag.String("o", "confusables_table.go", "output file")
	verbose := flag.Bool("v", false, "list the fold classes that hold ASCII and the mappings Fold leaves out")
	flag.Parse()
	if *dataPath == "" || *source == "" || *version == "" {
		log.Fatal("usage: gen -data FILE -source 'PACKAGE VERSION (FILE)' -version CONFUSABLES_VERSION [-o FILE]")
	}
	raw, err := os.ReadFile(*dataPath)
	if err != nil {
		log.Fatal(err)
	}
	conf, read, err := parse(raw)
	if err != nil {
		log.Fatalf("%s: %v", *dataPath, err)
	}
	t, err := build(conf, *verbose)
	if err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	src, err := t.emit(header{
		source:  *source,
		file:    filepath.Base(*dataPath),
		sha256:  hex.EncodeToString(sum[:]),
		version: *version,
		read:    read,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d mappings read, %d used by Skeleton, %d by Fold in %d classes (%d not joined, %d multi-rune conflicts); %d keys, %d value bytes; wrote %s (%d bytes)",
		read, len(t.skel), len(t.fold), t.classes, len(t.blocked), len(t.conflicts), len(t.keys), t.poolBytes, *out, len(src))
}

// parse reads either JSON layout and returns the confusables mapping, source
// rune to prototype string, and the number of mappings in the file.
func parse(raw []byte) (map[rune]string, int, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, 0, err
	}
	for _, v := range probe {
		if len(v) > 0 && v[0] == '[' {
			return parsePairs(raw)
		}
		break
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, 0, fmt.Errorf("neither layout: %v", err)
	}
	conf := make(map[rune]string, len(m))
	for k, v := range m {
		r, ok := single(k)
		if !ok || v == "" || !utf8.ValidString(v) {
			return nil, 0, fmt.Errorf("bad mapping %q -> %q", k, v)
		}
		conf[r] = v
	}
	return conf, len(m), nil
}

// single returns the rune s holds if it holds exactly one.
func single(s string) (rune, bool) {
	r, n := utf8.DecodeRuneInString(s)
	return r, n == len(s) && r != utf8.RuneError
}

// parsePairs reads the python confusable_homoglyphs layout, in which every
// mapping of confusables.txt appears in both directions, and recovers the
// direction: a source has exactly one partner and is one rune; a target
// of more than one rune is a prototype.
func parsePairs(raw []byte) (map[rune]string, int, error) {
	var m map[string][]struct {
		C string `json:"c"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, 0, err
	}
	// The comments it was parsed from wrap right-to-left characters in
	// U+200E LEFT-TO-RIGHT MARK, which is never part of a mapping.
	strip := func(s string) string { return strings.ReplaceAll(s, "\u200e", "") }
	partners := map[string]map[string]bool{}
	for k, list := range m {
		k = strip(k)
		for _, p := range list {
			c := strip(p.C)
			if k == "" || c == "" || k == c {
				return nil, 0, fmt.Errorf("bad pair %q, %q", k, c)
			}
			if partners[k] == nil {
				partners[k] = map[string]bool{}
			}
			partners[k][c] = true
		}
	}
	conf := map[rune]string{}
	pairs := 0
	for _, k := range slices.Sorted(maps.Keys(partners)) {
		kr, ok := single(k)
		if !ok {
			continue // a multi-rune prototype: its sources name it
		}
		for _, c := range slices.Sorted(maps.Keys(partners[k])) {
			cr, cOne := single(c)
			switch {
			case !cOne: // c is a multi-rune prototype: k maps to it
				conf[kr] = c
				pairs++
			case len(partners[k]) == 1 && (len(partners[c]) > 1 || kr > cr):
				// k has one partner and c has several, or each has only the
				// other: then which is the source cannot be told, and the
				// higher code point is taken as the source.
				conf[kr] = c
				pairs++
			}
		}
	}
	return conf, pairs, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mapOnce maps every rune of s through m and returns the NFD of the result.
func mapOnce(m map[rune]string, s string) string {
	var b strings.Builder
	for _, c := range s {
		if v, ok := m[c]; ok {
			b.WriteString(v)
		} else {
			b.WriteRune(c)
		}
	}
	return norm.NFD.String(b.String())
}

// A table is what is emitted.
type table struct {
	skel      map[rune]string // UTS #39 mapping: NFD-stable source -> NFD prototype
	fold      map[rune]string // rune -> its fold key, where that is not the rune
	keys      []rune          // every rune in skel or fold, increasing
	pool      []string        // distinct values, sorted; referred to from 1
	poolBytes int
	classes   int
	closed    int      // values that had to be mapped again
	blocked   []string // confusable pairs that Fold does not join
	dropped   []string // mappings left out: their prototype holds a control
	conflicts []string
}

func nfdStable(r rune) bool { return norm.NFD.String(string(r)) == string(r) }

// widthFolds reports whether PRECIS width mapping (and so Fold) changes r.
func widthFolds(r rune) bool { return width.LookupRune(r).Folded() != 0 }

// build derives the skeleton and fold tables from the confusables mapping.
//
// Skeleton is UTS #39's: NFD, map every rune, NFD. A source that is not
// NFD-stable never meets the mapping (NFD has already decomposed it), so it
// is left out.
//
// Fold is the key of the smallest equivalence relation on runes that holds
// both "is confusable with" (a source and its one-rune prototype) and "is the
// same letter in another case" (the simple case folding orbit,
// unicode.SimpleFold): names that differ only in case are the same name, and
// whoever holds one may display any case of it, so a name must also collide
// with everything confusable with any case of it ("AIice" with a capital I
// shows like "Alice", so "alice" and "aiice" must fold equal). Each class
// maps to one representative rune; a class whose source maps to several
// runes ("m" -> "rn") maps to the keys of those runes.
func build(conf map[rune]string, verbose bool) (*table, error) {
	t := &table{skel: map[rune]string{}, fold: map[rune]string{}}
	for r, v := range conf {
		if !nfdStable(r) {
			continue
		}
		if strings.ContainsFunc(v, unicode.IsControl) {
			// confusables.txt 13.0.0 maps U+1F16D CIRCLED CC to U+33C4,
			// TAB, U+20DD. Keys must never hold a control character.
			t.dropped = append(t.dropped, fmt.Sprintf("U+%04X -> %+q", r, v))
			continue
		}
		v = norm.NFD.String(v)
		if v != string(r) {
			t.skel[r] = v
		}
	}
	// A prototype is never a source in confusables.txt, but the NFD of one
	// can hold a source (U+06C0 decomposes to U+06D5 U+0654, and U+06D5 is
	// a source). The runtime maps each rune once, so such values are mapped
	// again here until they are stable: Skeleton is then idempotent.
	orig := maps.Clone(t.skel)
	for _, r := range slices.Sorted(maps.Keys(orig)) {
		v := orig[r]
		for range 8 {
			v = mapOnce(orig, v)
		}
		if mapOnce(orig, v) != v {
			return nil, fmt.Errorf("prototype of U+%04X does not settle: %+q", r, v)
		}
		if v != orig[r] {
			t.skel[r] = v
			t.closed++
		}
	}
	slices.Sort(t.dropped)

	uf := unionFind{}
	multi := map[rune]string{} // source -> prototype of more than one rune
	sources := map[rune]int{}  // prototype rune -> number of its sources
	var edges []rune           // sources with a one-rune prototype
	for r, v := range t.skel {
		uf.add(r)
		if p, ok := single(v); ok {
			uf.add(p)
			edges = append(edges, r)
			sources[p]++
		} else {
			multi[r] = v
			for _, c := range v {
				uf.add(c)
			}
		}
	}
	// Case and width first: Fold must be case-insensitive whatever else
	// gives way, and it folds width before it looks runes up (so the key of
	// a fullwidth letter is never used, but it must not be a class's key).
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !nfdStable(r) {
			continue
		}
		for o := unicode.SimpleFold(r); o != r; o = unicode.SimpleFold(o) {
			if nfdStable(o) {
				uf.union(r, o)
			}
		}
		if f := width.LookupRune(r).Folded(); f != 0 && nfdStable(f) {
			uf.union(r, f)
		}
	}
	// Then confusables, except those that would join two classes that each
	// hold an ASCII letter or digit, unless UTS #39 itself maps one ASCII
	// character to the other (0 -> O, 1 -> l, I -> l). Closing "is
	// confusable with" under case through other scripts would otherwise
	// make most of the alphabet one letter: Greek ν looks like v and its
	// capital Ν like N, so v and N would fold together. Because of I -> l,
	// i, I, l, L, 1 and | are one class. Sources that are not upper case go
	// first, so that where a lower-case and an upper-case letter would pull
	// a class two ways, the lower-case one wins: most of a name is lower
	// case.
	anchored := map[rune]bool{}
	for c := rune(0); c < utf8.RuneSelf; c++ {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			anchored[uf.find(c)] = true
		}
	}
	ascii := func(r rune) bool {
		p, _ := single(t.skel[r])
		return r < utf8.RuneSelf && p < utf8.RuneSelf
	}
	slices.SortFunc(edges, func(a, b rune) int {
		if c := cmp.Compare(b2i(!ascii(a)), b2i(!ascii(b))); c != 0 {
			return c
		}
		if c := cmp.Compare(b2i(unicode.IsUpper(a)), b2i(unicode.IsUpper(b))); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, r := range edges {
		p, _ := single(t.skel[r])
		ra, rb := uf.find(r), uf.find(p)
		if ra == rb {
			continue
		}
		if anchored[ra] && anchored[rb] && !ascii(r) {
			t.blocked = append(t.blocked, fmt.Sprintf("U+%04X -> U+%04X", r, p))
			continue
		}
		a := anchored[ra] || anchored[rb]
		uf.union(r, p)
		anchored[uf.find(r)] = a
	}

	members := map[rune][]rune{}
	for r := range uf {
		root := uf.find(r)
		members[root] = append(members[root], r)
	}
	t.classes = len(members)
	if verbose {
		for _, root := range slices.Sorted(maps.Keys(members)) {
			ms := slices.Sorted(slices.Values(members[root]))
			if len(ms) > 1 && ms[0] < utf8.RuneSelf {
				fmt.Fprintf(os.Stderr, "class of %d: %+q\n", len(ms), string(ms))
			}
		}
		defer func() {
			for _, b := range t.blocked {
				fmt.Fprintf(os.Stderr, "not joined: %s\n", b)
			}
		}()
	}

	// The key of a class without a multi-rune prototype is the member that
	// ranks first: of its usual width, a UTS #39 prototype (so that Skeleton
	// leaves keys alone), not an upper-case letter, ASCII, the one most
	// runes map to, the lowest code point. For the class of i, l and 1 that
	// is l, which 73 runes map to (i has 37), so "lobby" is its own key.
	rank := func(r rune) []int {
		_, src := t.skel[r]
		return []int{b2i(widthFolds(r)), b2i(src), b2i(unicode.ToLower(r) != r), b2i(r >= utf8.RuneSelf), -sources[r], int(r)}
	}
	keys := map[rune]string{} // root -> key
	busy := map[rune]bool{}
	var key func(root rune) (string, error)
	keyOf := func(s string) (string, error) {
		var b strings.Builder
		for _, c := range s {
			if _, ok := uf[c]; !ok {
				b.WriteRune(c)
				continue
			}
			k, err := key(uf.find(c))
			if err != nil {
				return "", err
			}
			b.WriteString(k)
		}
		return norm.NFD.String(b.String()), nil
	}
	key = func(root rune) (string, error) {
		if k, ok := keys[root]; ok {
			return k, nil
		}
		if busy[root] {
			return "", fmt.Errorf("class of U+%04X maps to a string containing itself", root)
		}
		busy[root] = true
		defer delete(busy, root)
		ms := members[root]
		// Lower case first, as for the one-rune mappings above.
		slices.SortFunc(ms, func(a, b rune) int {
			if c := cmp.Compare(b2i(unicode.IsUpper(a)), b2i(unicode.IsUpper(b))); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		var k string
		var from rune
		for _, r := range ms {
			v, ok := multi[r]
			if !ok {
				continue
			}
			if anchored[root] && r >= utf8.RuneSelf {
				// An ASCII letter or digit keeps its key: Greek η looks
				// like "n̩", but its capital Η like H.
				t.blocked = append(t.blocked, fmt.Sprintf("U+%04X -> %+q", r, v))
				continue
			}
			kv, err := keyOf(v)
			if err != nil {
				return "", err
			}
			if k == "" {
				k, from = kv, r
			} else if kv != k {
				t.conflicts = append(t.conflicts, fmt.Sprintf("U+%04X -> %+q (key %+q), not U+%04X -> %+q (key %+q)",
					from, multi[from], k, r, v, kv))
			}
		}
		if k == "" {
			best := ms[0]
			for _, r := range ms[1:] {
				if slices.Compare(rank(r), rank(best)) < 0 {
					best = r
				}
			}
			k = string(best)
		}
		keys[root] = k
		return k, nil
	}
	for _, r := range slices.Sorted(maps.Keys(uf)) {
		k, err := key(uf.find(r))
		if err != nil {
			return nil, err
		}
		if k != string(r) && !widthFolds(r) { // Fold never looks those up
			t.fold[r] = k
		}
	}

	// Every rune of a key must be its own key, so that Fold is idempotent,
	// and must not be a UTS #39 source, so that Skeleton(Fold(s)) == Fold(s).
	for r, k := range t.fold {
		for _, c := range k {
			if ck, ok := t.fold[c]; ok {
				return nil, fmt.Errorf("key %+q of U+%04X holds U+%04X, whose key is %+q", k, r, c, ck)
			}
			if _, ok := t.skel[c]; ok {
				return nil, fmt.Errorf("key %+q of U+%04X holds U+%04X, which UTS #39 maps to %+q", k, r, c, t.skel[c])
			}
			if widthFolds(c) {
				return nil, fmt.Errorf("key %+q of U+%04X holds U+%04X, which width folding maps", k, r, c)
			}
		}
	}

	all := map[rune]bool{}
	values := map[string]bool{}
	for r, v := range t.skel {
		all[r], values[v] = true, true
	}
	for r, v := range t.fold {
		all[r], values[v] = true, true
	}
	t.keys = slices.Sorted(maps.Keys(all))
	t.pool = slices.Sorted(maps.Keys(values))
	for _, v := range t.pool {
		t.poolBytes += len(v)
	}
	if len(t.pool) >= 1<<16-1 || t.poolBytes >= 1<<16 {
		return nil, fmt.Errorf("%d values of %d bytes do not fit uint16 indexes", len(t.pool), t.poolBytes)
	}
	slices.Sort(t.conflicts)
	return t, nil
}

type unionFind map[rune]rune

func (u unionFind) add(r rune) {
	if _, ok := u[r]; !ok {
		u[r] = r
	}
}

func (u unionFind) find(r rune) rune {
	for u[r] != r {
		u[r] = u[u[r]]
		r = u[r]
	}
	return r
}

func (u unionFind) union(a, b rune) {
	u.add(a)
	u.add(b)
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		u[max(ra, rb)] = min(ra, rb)
	}
}

type header struct {
	source, file, sha256, version string
	read                          int
}

func (t *table) emit(h header) ([]byte, error) {
	index := map[string]int{}
	for i, v := range t.pool {
		index[v] = i + 1
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by \"go run ./internal/gen\" (see go:generate in skeleton.go); DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "// Derived, with modifications, from the Unicode confusables data (UTS #39,\n")
	fmt.Fprintf(&b, "// confusables.txt, version %s), Copyright Unicode, Inc., under the Unicode\n", h.version)
	fmt.Fprintf(&b, "// licence in internal/gen/testdata/unhomoglyph-1.0.6/LICENSE-UNICODE.\n//\n")
	fmt.Fprintf(&b, "// Source: %s\n", h.source)
	fmt.Fprintf(&b, "// File: %s, sha256 %s\n", h.file, h.sha256)
	fmt.Fprintf(&b, "// Mappings read: %d; used by Skeleton (NFD-stable sources): %d, of which\n", h.read, len(t.skel))
	fmt.Fprintf(&b, "// %d have a prototype whose NFD is mapped again until it is stable.\n", t.closed)
	for _, d := range t.dropped {
		fmt.Fprintf(&b, "// Left out, as its prototype holds a control character: %s.\n", d)
	}
	fmt.Fprintf(&b, "// Fold: %d entries in %d classes of confusable or case-equivalent runes,\n", len(t.fold), t.classes)
	fmt.Fprintf(&b, "// with the Go toolchain's simple case folding (Unicode %s) and\n", unicode.Version)
	fmt.Fprintf(&b, "// golang.org/x/text's normalization (Unicode %s).\n", norm.Version)
	if len(t.conflicts) > 0 {
		fmt.Fprintf(&b, "//\n// %d classes whose runes map to different multi-rune prototypes keep one\n", len(t.conflicts))
		fmt.Fprintf(&b, "// (a lower-case source's, else the lowest code point's):\n")
		for _, c := range t.conflicts {
			fmt.Fprintf(&b, "//   %s\n", c)
		}
	}
	fmt.Fprintf(&b, "//\n// %d one-rune mappings are not joined by Fold because they would join two\n", len(t.blocked))
	fmt.Fprintf(&b, "// ASCII letters or digits through case (run gen with -v to list them);\n")
	fmt.Fprintf(&b, "// Skeleton keeps them all.\n")
	fmt.Fprintf(&b, "\npackage safetext\n\n")
	fmt.Fprintf(&b, "// confusablesVersion is the version of confusables.txt the tables come from.\nconst confusablesVersion = %q\n\n", h.version)
	fmt.Fprintf(&b, "// tablesUnicodeVersion is the Unicode version of the case folding and\n// normalization the Fold table was derived with.\nconst tablesUnicodeVersion = %q\n\n", norm.Version)

	fmt.Fprintf(&b, "// confKeys lists, increasing, every rune that Skeleton or Fold maps.\nvar confKeys = [...]uint32{")
	for i, r := range t.keys {
		if i%10 == 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "0x%04X, ", r)
	}
	b.WriteString("\n}\n\n")
	emitIndex := func(name, doc string, m map[rune]string) {
		fmt.Fprintf(&b, "// %s\nvar %s = [...]uint16{", doc, name)
		for i, r := range t.keys {
			if i%16 == 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "%d, ", index[m[r]]) // 0 for none
		}
		b.WriteString("\n}\n\n")
	}
	emitIndex("confSkel", "confSkel[i] is the value (see confValue) that Skeleton maps confKeys[i] to; 0 for none.", t.skel)
	emitIndex("confFold", "confFold[i] is the value (see confValue) that Fold maps confKeys[i] to; 0 for none.", t.fold)

	fmt.Fprintf(&b, "// confEnds[v-1] is where value v ends in confValues; it starts where value\n// v-1 ends.\nvar confEnds = [...]uint16{")
	end := 0
	for i, v := range t.pool {
		if i%16 == 0 {
			b.WriteString("\n")
		}
		end += len(v)
		fmt.Fprintf(&b, "%d, ", end)
	}
	b.WriteString("\n}\n\n")
	fmt.Fprintf(&b, "// confValues holds every value, NFD, one after another, in order.\nconst confValues = \"\" +")
	var line strings.Builder
	flush := func() {
		fmt.Fprintf(&b, "\n\t%s +", strconv.QuoteToASCII(line.String()))
		line.Reset()
	}
	for _, v := range t.pool {
		line.WriteString(v)
		if line.Len() >= 24 {
			flush()
		}
	}
	if line.Len() > 0 {
		flush()
	}
	b.Truncate(b.Len() - 2) // the last " +"
	b.WriteString("\n")
	return format.Source(b.Bytes())
}
