package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// layering is the import rule ARCHITECTURE.md draws: for each package, the
// import path prefixes its non-test files may not use.
var layering = map[string][]string{
	// The chat domain knows no transport, terminal or storage.
	"room": {"parley/server", "parley/tui", "parley/screen", "parley/store", "parley/keys",
		"parley/access", "parley/guard", "parley/ops", "parley/cli",
		"charm.land/", "golang.org/x/crypto", "database/sql", "modernc.org/", "net/http"},
	// The screen model never reaches past the domain to SSH or storage.
	"tui": {"parley/server", "parley/store", "parley/keys", "parley/access", "parley/guard",
		"charm.land/ssh", "charm.land/wish", "golang.org/x/crypto", "database/sql", "modernc.org/"},
	// Leaves: pure accounting, pure text, pure terminal output.
	"guard":    {"parley/"},
	"safetext": {"parley/"},
	"screen":   {"parley/"},
	// Storage implements ports; it never calls up into a front door.
	"store": {"parley/server", "parley/tui", "parley/screen", "charm.land/", "golang.org/x/crypto"},
	// The JetStream log implements room's Log port and knows nothing else
	// of parley; the NATS server is embedded in its tests only.
	"natslog": {"parley/server", "parley/tui", "parley/screen", "parley/store", "parley/keys",
		"parley/access", "parley/guard", "parley/ops", "parley/cli",
		"charm.land/", "golang.org/x/crypto", "database/sql", "modernc.org/", "net/http",
		"github.com/nats-io/nats-server"},
	// The binary is a NATS client, never a NATS server.
	".": {"github.com/nats-io/nats-server"},
}

func TestPackagesKeepTheirLayer(t *testing.T) {
	for dir, banned := range layering {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v); update layering if the package moved", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range banned {
					if path == strings.TrimSuffix(b, "/") || strings.HasPrefix(path, b) {
						t.Errorf("%s imports %s: package %s may not import %s (ARCHITECTURE.md)", f, path, dir, b)
					}
				}
			}
		}
	}
}
