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
	// Moderation is domain: it acts on room and access, never on a transport,
	// a terminal or a store (the keys and the motd file are ports).
	"moderation": {"parley/server", "parley/tui", "parley/screen", "parley/store", "parley/guard",
		"parley/ops", "parley/cli", "charm.land/", "database/sql", "modernc.org/", "net/http"},
	// Leaves: pure accounting, pure text, pure terminal output, command
	// declarations.
	"command":  {"parley/"},
	"guard":    {"parley/"},
	"safetext": {"parley/"},
	"screen":   {"parley/"},
	// The SSH front door is handed its store-backed pieces ready by the
	// composition root (app): it names no storage.
	"server": {"parley/store", "parley/app", "database/sql", "modernc.org/"},
	// The web front door is an adapter onto the domain beside server: it
	// reaches identities through its own port, never SSH, keys or storage.
	"web": {"parley/server", "parley/app", "parley/store", "parley/keys", "parley/access", "parley/guard",
		"parley/moderation", "parley/tui", "parley/screen", "parley/cli", "parley/ops", "charm.land/", "golang.org/x/crypto", "database/sql", "modernc.org/"},
	// Storage implements ports; it never calls up into a front door.
	"store": {"parley/server", "parley/tui", "parley/screen", "charm.land/", "golang.org/x/crypto"},
	// The test harness imports no parley package (server's internal tests
	// use it); only testkit/inprocess builds a server.
	"internal/testkit": {"parley/"},
	// The embedded NATS servers for tests (one, or a cluster of three)
	// import no parley package either.
	"internal/natstest": {"parley/"},
	// The JetStream log implements room's Log port and knows nothing else
	// of parley; the NATS server is embedded in its tests only.
	"natslog": {"parley/server", "parley/tui", "parley/screen", "parley/store", "parley/keys",
		"parley/access", "parley/guard", "parley/ops", "parley/cli", "parley/app", "parley/web", "parley/moderation",
		"charm.land/", "golang.org/x/crypto", "database/sql", "modernc.org/", "net/http",
		"github.com/nats-io/nats-server"},
	// The shared access state implements access's and room's ports (and
	// moderation's Cluster) over JetStream KV and mirrors keys into the
	// authorized_keys file; it names no front door and no SQL store.
	"natsaccess": {"parley/server", "parley/tui", "parley/screen", "parley/store", "parley/guard",
		"parley/ops", "parley/cli", "parley/app", "parley/web", "parley/moderation", "parley/natslog",
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

// TestOnlyTestsImportTestkit keeps the test harness out of the binary:
// parley/internal/testkit (and its subpackages) may be imported by _test.go
// files and by testkit itself, nothing else.
func TestOnlyTestsImportTestkit(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.HasPrefix(filepath.ToSlash(path), "internal/testkit/") || strings.HasPrefix(filepath.ToSlash(path), "internal/natstest/") {
			return nil
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range parsed.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "parley/internal/testkit" || strings.HasPrefix(p, "parley/internal/testkit/") || p == "parley/internal/natstest" {
				t.Errorf("%s imports %s: the test harness is for _test.go files only (ARCHITECTURE.md)", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
