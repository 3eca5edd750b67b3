package deploy_test

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// root is the repository root, relative to this package's directory.
const root = ".."

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct {
	Line  int    // 1-based line where it starts
	Cmd   string // upper case: FROM, RUN, ...
	Args  string // the rest, continuations joined with a space
	Stage int    // index of the FROM it belongs to
}

// parseDockerfile splits a Dockerfile into instructions: comments and
// parser directives dropped, backslash continuations joined.
func parseDockerfile(t *testing.T, src string) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	stage := -1
	for i, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == nil) {
			continue
		}
		cont := strings.HasSuffix(trimmed, `\`)
		trimmed = strings.TrimSpace(strings.TrimSuffix(trimmed, `\`))
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cur = &instruction{Line: i + 1, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
			if cur.Cmd == "FROM" {
				stage++
			}
			cur.Stage = stage
		} else if trimmed != "" {
			cur.Args = strings.TrimSpace(cur.Args + " " + trimmed)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		t.Fatalf("Dockerfile line %d: continuation at end of file", cur.Line)
	}
	return out
}

// execForm parses a JSON-array (exec form) argument, or reports false.
func execForm(args string) ([]string, bool) {
	var v []string
	if !strings.HasPrefix(args, "[") || json.Unmarshal([]byte(args), &v) != nil || len(v) == 0 {
		return nil, false
	}
	return v, true
}

// flags strips leading --name=value flags (COPY --from=..., HEALTHCHECK
// --interval=...) and returns them with the rest.
func flags(args string) (map[string]string, string) {
	f := map[string]string{}
	for strings.HasPrefix(args, "--") {
		word, rest, _ := strings.Cut(args, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		f[k] = v
		args = strings.TrimSpace(rest)
	}
	return f, args
}

var known = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "EXPOSE": true, "ENV": true,
	"ADD": true, "COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true,
	"WORKDIR": true, "ARG": true, "ONBUILD": true, "STOPSIGNAL": true,
	"HEALTHCHECK": true, "SHELL": true,
}

// secretish matches things that must never be copied into or set in an
// image: host keys, private keys, env files, authorized keys and
// credentials.
var secretish = regexp.MustCompile(`(?i)(host_ed25519|_ed25519|id_rsa|\.pem\b|\.key\b|\.env\b|authorized_keys|secret|password|passwd|token|PARLEY_HOST_KEY|PARLEY_ADMIN_KEYS)`)

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, read(t, "Dockerfile"))
	var froms []instruction
	for _, in := range ins {
		if !known[in.Cmd] {
			t.Errorf("line %d: unknown instruction %s", in.Line, in.Cmd)
		}
		if in.Cmd == "FROM" {
			froms = append(froms, in)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM", len(froms))
	}
	final := len(froms) - 1

	// Base images: pinned, the Go toolchain for building, distroless static
	// nonroot to run.
	build := strings.Fields(froms[0].Args)
	if len(build) != 3 || build[0] != "golang:1.26" || !strings.EqualFold(build[1], "AS") {
		t.Errorf("build stage: FROM %s, want golang:1.26 AS <name>", froms[0].Args)
	}
	stageName := build[len(build)-1]
	if froms[final].Args != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage: FROM %s, want gcr.io/distroless/static-debian12:nonroot", froms[final].Args)
	}
	for _, f := range froms {
		img := strings.Fields(f.Args)[0]
		if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
			t.Errorf("line %d: FROM %s: pin a tag", f.Line, img)
		}
	}

	var (
		modDownload, copyAll, copyMod, goBuild = -1, -1, -1, -1
		finalIns                               []instruction
	)
	for i, in := range ins {
		if in.Stage == final {
			finalIns = append(finalIns, in)
		}
		switch in.Cmd {
		case "ADD":
			// ADD fetches URLs and unpacks archives: COPY says what it does.
			t.Errorf("line %d: ADD %s: use COPY (and never fetch URLs at build time)", in.Line, in.Args)
		case "COPY":
			_, rest := flags(in.Args)
			if secretish.MatchString(rest) {
				t.Errorf("line %d: COPY %s copies something secret-looking into the image", in.Line, rest)
			}
			if in.Stage == 0 && rest == "go.mod go.sum ./" {
				copyMod = i
			}
			if in.Stage == 0 && rest == ". ." {
				copyAll = i
			}
		case "ENV", "ARG", "LABEL":
			if secretish.MatchString(in.Args) {
				t.Errorf("line %d: %s %s: secrets belong in the runtime environment", in.Line, in.Cmd, in.Args)
			}
		case "RUN":
			if in.Stage == final {
				t.Errorf("line %d: RUN in the distroless stage (there is no shell)", in.Line)
			}
			if strings.Contains(in.Args, "go mod download") {
				modDownload = i
			}
			if strings.Contains(in.Args, "go build") {
				goBuild = i
				for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-ldflags", "-s -w"} {
					if !strings.Contains(in.Args, want) {
						t.Errorf("line %d: go build without %s", in.Line, want)
					}
				}
			}
			if regexp.MustCompile(`(curl|wget)\s`).MatchString(in.Args) {
				t.Errorf("line %d: RUN fetches from the network: %s", in.Line, in.Args)
			}
		}
	}
	if copyMod < 0 || modDownload < 0 || copyAll < 0 || goBuild < 0 ||
		!(copyMod < modDownload && modDownload < copyAll && copyAll < goBuild) {
		t.Errorf("layer order: want COPY go.mod go.sum, RUN go mod download, COPY . ., RUN go build (got %d %d %d %d)",
			copyMod, modDownload, copyAll, goBuild)
	}

	// The final stage, instruction by instruction.
	var (
		user, entry, health string
		volumes, exposes    []string
		env                 = map[string]string{}
		binary, dataDir     bool
	)
	for _, in := range finalIns {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entry = in.Args
		case "HEALTHCHECK":
			_, health = flags(in.Args)
		case "VOLUME":
			if v, ok := execForm(in.Args); ok {
				volumes = append(volumes, v...)
			} else {
				volumes = append(volumes, strings.Fields(in.Args)...)
			}
		case "EXPOSE":
			exposes = append(exposes, strings.Fields(in.Args)...)
		case "ENV":
			for _, kv := range strings.Fields(in.Args) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Errorf("line %d: use ENV KEY=VALUE", in.Line)
				}
				env[k] = v
			}
		case "COPY":
			f, rest := flags(in.Args)
			if f["from"] != stageName {
				t.Errorf("line %d: COPY in the final stage not from the %s stage: %s", in.Line, stageName, in.Args)
			}
			if strings.HasSuffix(rest, " /parley") {
				binary = true
			}
			if strings.HasSuffix(rest, " /data") {
				dataDir = true
				if f["chown"] != "65532:65532" {
					t.Errorf("line %d: /data must be owned by nonroot: --chown=65532:65532", in.Line)
				}
			}
		}
	}
	if !binary {
		t.Error("final stage: the binary is not copied to /parley")
	}
	if !dataDir {
		t.Error("final stage: no /data directory owned by nonroot is copied in")
	}
	if user != "65532:65532" && user != "nonroot:nonroot" && user != "nonroot" {
		t.Errorf("USER %q, want the distroless nonroot user 65532:65532", user)
	}
	if !slices.Contains(volumes, "/data") {
		t.Errorf("VOLUME %v, want /data", volumes)
	}
	if !slices.Equal(exposes, []string{"2222", "8080"}) && !slices.Equal(exposes, []string{"2222/tcp", "8080/tcp"}) {
		t.Errorf("EXPOSE %v, want 2222 and 8080, the SSH and web ports (the ops port stays unpublished)", exposes)
	}
	if v, ok := execForm(entry); !ok || !slices.Equal(v, []string{"/parley"}) {
		t.Errorf(`ENTRYPOINT %s, want exec form ["/parley"]`, entry)
	}
	cmd, ok := strings.CutPrefix(health, "CMD ")
	if v, isExec := execForm(strings.TrimSpace(cmd)); !ok || !isExec || !slices.Equal(v, []string{"/parley", "healthcheck"}) {
		t.Errorf(`HEALTHCHECK %s, want CMD ["/parley", "healthcheck"]`, health)
	}
	for k, want := range map[string]string{
		"PARLEY_DATA_DIR":     "/data",
		"PARLEY_LISTEN":       ":2222",
		"PARLEY_WEB":          ":8080", // the web page reachable from outside the container
		"PARLEY_OPS":          "0.0.0.0:9091",
		"PARLEY_NO_SEED_KEYS": "1",
	} {
		if env[k] != want {
			t.Errorf("ENV %s=%q, want %q", k, env[k], want)
		}
	}
}

func TestDockerignore(t *testing.T) {
	lines := map[string]bool{}
	for _, l := range strings.Split(read(t, ".dockerignore"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines[strings.Trim(l, "/")] = true
		}
	}
	for _, want := range []string{".git", "data", "**/host_ed25519*", "**/*.pem", ".env"} {
		if !lines[want] {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "*.go", "**/*.go", "**/*.sql"} {
		if lines[keep] {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}

// TestStaticBinary builds parley the way the Dockerfile does and checks the
// result is a static executable that runs with nothing else in the image.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	var buildCmd string
	for _, in := range parseDockerfile(t, read(t, "Dockerfile")) {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
			buildCmd, _, _ = strings.Cut(in.Args, "&&")
		}
	}
	args := shellWords(t, strings.ReplaceAll(buildCmd, "${VERSION}", "v0.0.0-test"))
	env := []string{"GOOS=linux", "GOARCH=" + runtime.GOARCH}
	for len(args) > 0 && strings.Contains(args[0], "=") { // VAR=value prefix
		env = append(env, args[0])
		args = args[1:]
	}
	if len(args) < 2 || args[0] != "go" || args[1] != "build" {
		t.Fatalf("cannot run the Dockerfile's build command: %q", buildCmd)
	}
	out := filepath.Join(t.TempDir(), "parley")
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	if !slices.Contains(args, out) {
		t.Fatalf("the Dockerfile's go build has no -o: %q", buildCmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	t.Logf("%q %q", env, args)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build failed: %v\n%s", err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("PT_INTERP present: the binary needs a dynamic loader, which distroless/static lacks")
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Error("PT_DYNAMIC present: the binary is dynamically linked")
		}
	}
	if libs, err := f.DynString(elf.DT_NEEDED); err == nil && len(libs) > 0 {
		t.Errorf("DT_NEEDED %v: the binary needs shared libraries", libs)
	}
	if f.Section(".interp") != nil {
		t.Error(".interp section present")
	}
	if f.Section(".symtab") != nil {
		t.Error(".symtab present: built without -s")
	}

	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings: CGO_ENABLED=%q -trimpath=%q", settings["CGO_ENABLED"], settings["-trimpath"])
	}
	// (With -trimpath, Go leaves -ldflags out of the build info; the
	// missing .symtab above shows -s was applied.)

	// It runs on its own: -help needs no data dir, network or loader.
	if runtime.GOOS == "linux" {
		run := exec.CommandContext(ctx, out, "-help")
		run.Env = []string{} // nothing from this machine, as in the image
		b, err := run.CombinedOutput()
		if err != nil || !strings.Contains(string(b), "PARLEY_") {
			t.Errorf("parley -help: %v\n%s", err, b)
		}
	}
}

// shellWords splits a simple shell command: words, double and single quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune(";|&`$<>()\\", r):
			t.Fatalf("build command too complex to replay: %q", s)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
