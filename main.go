// Command parley is a chat server people join with nothing but ssh.
//
// Run it with `go run .` (data in ./data, listening on :2222); see README.md
// for the flags and PARLEY_* environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"parley/app"
	"parley/guard"
	"parley/ops"
	"parley/room"
	"parley/server"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3". When
// it is not, versionString reads the module's build information.
var version = ""

// versionString is what --version prints and the metrics report: the
// version set at build time, else the module version `go install` records
// (with the VCS revision of a checkout build), else "devel".
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev string
	var dirty bool
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			rev = st.Value
		case "vcs.modified":
			dirty = st.Value == "true"
		}
	}
	if rev != "" && v == "devel" {
		v += " (" + rev[:min(12, len(rev))]
		if dirty {
			v += ", modified"
		}
		v += ")"
	}
	return v
}

// shutdownTimeout bounds a graceful stop.
const shutdownTimeout = 10 * time.Second

// defaultOps is the ops HTTP listener when nothing is set: loopback only.
const defaultOps = "127.0.0.1:9091"

// defaultDataDir is the data dir when neither --data nor PARLEY_DATA_DIR is
// given (config.go reads parley.conf from it before the flags are parsed).
const defaultDataDir = "./" + server.DefaultDataDir

func main() {
	if err := run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		var code exitCode
		if errors.As(err, &code) { // the command has said why
			os.Exit(int(code))
		}
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

// options is the command line after flags and environment are resolved.
type options struct {
	listen    string
	ops       string
	pprof     bool
	logFormat string
	logLevel  slog.Level
	server    app.Config
	web       webOptions  // webwire.go
	nats      natsOptions // natswire.go

	// opsExplicit: --ops or PARLEY_OPS was given; otherwise a busy default
	// ops port moves to the next free one (listenOps).
	opsExplicit bool
}

// lookupFunc reads the environment: os.LookupEnv, or a map in tests.
type lookupFunc func(string) (string, bool)

// parseOptions reads flags over PARLEY_* environment variables over defaults.
func parseOptions(args []string, lookup lookupFunc, stderr io.Writer) (options, error) {
	o := options{server: app.Defaults()}
	getenv := func(name string) string { v, _ := lookup(name); return v }
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", env("PARLEY_LISTEN", ":"+server.DefaultPort), "SSH listen address (env PARLEY_LISTEN)")
	fs.StringVar(&o.server.DataDir, "data", env("PARLEY_DATA_DIR", defaultDataDir), "data directory: host key, authorized_keys, motd (env PARLEY_DATA_DIR)")
	noSeed, err := envBool(getenv, "PARLEY_NO_SEED_KEYS")
	if err != nil {
		return o, err
	}
	fs.BoolVar(&noSeed, "no-seed-keys", noSeed, "on first start, do not import ~/.ssh keys as admins (env PARLEY_NO_SEED_KEYS=1)")
	opsAddr := defaultOps
	if v, ok := lookup("PARLEY_OPS"); ok { // set but empty turns it off
		opsAddr = v
	}
	fs.StringVar(&o.ops, "ops", opsAddr, "ops HTTP listener for /metrics, /healthz, /readyz; empty turns it off (env PARLEY_OPS)")
	pprof, err := envBool(getenv, "PARLEY_PPROF")
	if err != nil {
		return o, err
	}
	fs.BoolVar(&o.pprof, "pprof", pprof, "serve /debug/pprof/ on the ops listener (env PARLEY_PPROF=1)")
	fs.StringVar(&o.server.Store, "store", env("PARLEY_STORE", app.StoreSQLite), "history store: sqlite (data/parley.db) or memory (env PARLEY_STORE)")
	retain := env("PARLEY_RETAIN", "")
	fs.StringVar(&retain, "retain", retain, "delete messages older than this, e.g. 90d or 720h; empty keeps everything (env PARLEY_RETAIN)")
	msgs := guard.DefaultLimiterConfig()
	msgRate, err := envFloat(getenv, "PARLEY_MSG_RATE", msgs.Rate)
	if err != nil {
		return o, err
	}
	fs.Float64Var(&o.server.Defences.Messages.Rate, "msg-rate", msgRate, "messages per second one person may send after a burst; inf turns flood control off (env PARLEY_MSG_RATE)")
	msgBurst, err := envFloat(getenv, "PARLEY_MSG_BURST", float64(msgs.Burst))
	if err != nil {
		return o, err
	}
	burst := int(msgBurst)
	fs.IntVar(&burst, "msg-burst", burst, "messages one person may send at once (env PARLEY_MSG_BURST)")
	defaultRoom := env("PARLEY_DEFAULT_ROOM", room.DefaultRoom)
	fs.StringVar(&defaultRoom, "default-room", defaultRoom, "the room everyone starts in (env PARLEY_DEFAULT_ROOM)")
	fs.StringVar(&o.logFormat, "log-format", env("PARLEY_LOG_FORMAT", "text"), "log format: text or json (env PARLEY_LOG_FORMAT)")
	level := env("PARLEY_LOG_LEVEL", "info")
	fs.StringVar(&level, "log-level", level, "log level: debug, info, warn, error (env PARLEY_LOG_LEVEL)")
	if err := connectionFlags(fs, getenv, &o.server.Config); err != nil {
		return o, err
	}
	webFlags(fs, lookup, &o.web)
	if err := natsFlags(fs, getenv, &o.nats); err != nil {
		return o, err
	}
	fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: parley [flags]\n       parley --version\n       parley healthcheck [--ops ADDR] [--data DIR]\n       parley keys add|list|remove ... [--data DIR]  (parley keys help)\n       parley cluster import --nats URL [--data DIR]  (move history into a cluster)\n\nA chat room people join with ssh. Flags override PARLEY_* environment variables,\nwhich override DATA/parley.conf (NAME=VALUE lines with the PARLEY_* names below,\n# comments), which overrides the defaults.\nThe host key may also come from PARLEY_HOST_KEY (a PEM private key);\nPARLEY_ADMIN_KEYS adds admin keys (lines or file paths, one per line or ';')\non every start, even after they were removed.\nConnection limits: --max-* and --penalty-* below (README: Limits).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, exitCode(2) // the flag package has printed the error and the usage
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (see parley -help)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "ops" {
			o.opsExplicit = true
		}
	})
	if _, ok := lookup("PARLEY_OPS"); ok {
		o.opsExplicit = true
	}
	o.server.SeedKeys = !noSeed
	o.server.Defences.Messages.Burst = burst
	if r := o.server.Defences.Messages.Rate; !(r > 0) || burst < 1 {
		return o, fmt.Errorf("--msg-rate must be above 0 (or inf) and --msg-burst at least 1")
	}
	if err := checkLimits(&o.server.Config); err != nil {
		return o, err
	}
	if err := o.web.check(); err != nil {
		return o, err
	}
	if o.server.Retain, err = parseRetain(retain); err != nil {
		return o, err
	}
	o.server.Room.DefaultRoom = strings.TrimPrefix(defaultRoom, "#")
	if v := getenv("PARLEY_ADMIN_KEYS"); v != "" {
		o.server.AdminKeys = splitKeys(v)
	}
	if pem := getenv("PARLEY_HOST_KEY"); pem != "" {
		o.server.HostKeyPEM = []byte(pem)
	}
	if err := o.logLevel.UnmarshalText([]byte(level)); err != nil {
		return o, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return o, fmt.Errorf("log format %q: use text or json", o.logFormat)
	}
	return o, nil
}

// parseRetain reads a retention period: a Go duration or a number of days
// ("90d"). Empty means keep everything.
func parseRetain(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("retain %q: use a number of days like 90d, or a duration like 720h", v)
}

// splitKeys splits PARLEY_ADMIN_KEYS: keys or paths, one per line or
// separated by semicolons.
func splitKeys(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ';' })
}

func envFloat(getenv func(string) string, name string, def float64) (float64, error) {
	return envValue(getenv, name, def, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }, "a number")
}

func envBool(getenv func(string) string, name string) (bool, error) {
	v := getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: use true or false", name, v)
	}
	return b, nil
}

func run(args []string, lookup lookupFunc, stdout, stderr io.Writer) error {
	for _, a := range args {
		if a == "--" || a == "healthcheck" || a == "keys" || a == "cluster" {
			break
		}
		if a == "-version" || a == "--version" {
			fmt.Fprintln(stdout, "parley", versionString())
			return nil
		}
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], lookup, stderr)
	}
	if len(args) > 0 && args[0] == "keys" {
		return keysCommand(args[1:], lookup, os.Stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "cluster" {
		return clusterCommand(args[1:], lookup, stdout, stderr) // clusterimport.go
	}
	lookup, err := withConfigFile(args, lookup)
	if err != nil {
		return err
	}
	// What the flag package prints goes to stdout when it is the help that
	// was asked for (so `parley --help | less` works), to stderr otherwise.
	var usage strings.Builder
	o, err := parseOptions(args, lookup, &usage)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage.String())
		} else {
			io.WriteString(stderr, usage.String())
		}
		return err
	}
	// Before anything is printed: a signal from then on means a clean stop.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	hopts := &slog.HandlerOptions{Level: o.logLevel}
	var handler slog.Handler = slog.NewTextHandler(stderr, hopts)
	if o.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(handler)
	o.server.Logger = log
	closeNATS, natsReady, err := o.nats.wire(&o.server, log)
	if err != nil {
		return err
	}
	defer closeNATS() // after the server has closed
	log.Debug("effective config", "listen", o.listen, "data", o.server.DataDir, "seed_keys", o.server.SeedKeys, "host_key_from_env", len(o.server.HostKeyPEM) > 0)

	var srv *app.App
	metrics := ops.NewMetrics(versionString(), func() float64 {
		if srv == nil {
			return 0
		}
		_, n := srv.Hub().Online()
		return float64(n)
	})
	if err := metrics.SetNode(o.nats.node); err != nil {
		return err
	}
	o.server.Room.Observer = metrics
	o.server.Conns = metrics
	if err := metrics.WatchGate(func() ops.GateStats {
		if srv == nil {
			return ops.GateStats{}
		}
		st := srv.GateStats()
		return ops.GateStats{Unauthenticated: st.Unauthenticated, Penalized: st.Penalized}
	}); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	wire := &webWire{}
	o.server.WebSignIn = wire.signIn
	o.server.WebInviteLink, o.server.WebEnded = wire.inviteLink, wire.ended // webwire.go
	if srv, err = app.New(o.server); err != nil {
		return err
	}
	wire.creds = srv.Credentials()
	wire.links = srv.WebLinks() // the cluster's with --nats (app/clusterweb.go)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		_ = srv.Close(context.Background())
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	var opsSrv *ops.Server
	if o.ops != "" {
		oln, err := listenOps(o.ops, o.opsExplicit)
		if err != nil {
			_ = srv.Close(context.Background())
			return err
		}
		if oln.Addr().String() != o.ops {
			log.Warn("the default ops port is taken (another parley on this host?): using the next free one; set --ops or PARLEY_OPS to choose", "default", o.ops, "ops", oln.Addr().String())
		}
		opsSrv = ops.NewServer(o.ops, metrics, readyWith(srv.Ready, natsReady), ops.Options{EnablePprof: o.pprof, Node: o.nats.node})
		go func() {
			if err := opsSrv.Serve(oln); err != nil {
				log.Error("ops listener", "err", err)
			}
		}()
		fmt.Fprintf(stdout, "Metrics and health checks on http://%s/metrics, /healthz, /readyz\n", oln.Addr())
	}
	fmt.Fprint(stdout, srv.Startup(ln.Addr()))
	webSrv, err := wire.start(o.web, srv.Server, srv.WebSessions(), ln.Addr(), log, stdout)
	if err != nil {
		_ = srv.Close(context.Background())
		return err
	}
	if webSrv != nil { // a session ended on another node closes its pages here (clusterweb.go)
		if err := srv.WatchWebSignOuts(webSrv.EndSessionPages); err != nil {
			_ = closeWeb(context.Background(), webSrv)
			_ = srv.Close(context.Background())
			return err
		}
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for {
		select {
		case err := <-served:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if err := srv.ReloadKeys(); err != nil {
					log.Error("SIGHUP", "err", err)
				}
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			err := errors.Join(closeWeb(ctx, webSrv), srv.Close(ctx))
			if opsSrv != nil {
				err = errors.Join(err, opsSrv.Close(ctx))
			}
			cancel()
			if err != nil {
				log.Warn("shutdown was not clean", "err", err)
			}
			return <-served
		}
	}
}

// healthcheck is `parley healthcheck`: exit 0 when the ops listener says
// the process is healthy, for container health checks. It finds the ops
// address as the server does: --ops, then PARLEY_OPS, then the data dir's
// parley.conf, then the default.
func healthcheck(args []string, lookup lookupFunc, stderr io.Writer) error {
	lookup, err := withConfigFile(args, lookup)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("parley healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := defaultOps
	if v, ok := lookup("PARLEY_OPS"); ok { // set but empty: turned off
		def = v
	}
	addr := fs.String("ops", def, "ops listener to check (env PARLEY_OPS, or parley.conf)")
	fs.String("data", dataDirOf(nil, lookup), "data directory whose parley.conf names the ops listener (env PARLEY_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	url, err := ops.HealthURL(*addr)
	if err != nil {
		return err
	}
	return ops.Healthcheck(context.Background(), url)
}
