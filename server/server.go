package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"parley/access"
	"parley/guard"
	"parley/keys"
	"parley/moderation"
	"parley/room"
	"parley/safetext"
)

// Config is what the SSH front door needs. The composition root (package
// app) fills it: it chooses and builds the store, the access lists, the
// authorized keys and the hub, and hands them over ready. Zero settings take
// the defaults in Defaults.
type Config struct {
	// DataDir holds the host key and the motd (and, for the composition
	// root, authorized_keys and the databases).
	DataDir string
	// HostKeyPEM, when set, is the host key (so that every node of one
	// deployment presents the same key); otherwise DataDir/ssh/host_ed25519.
	HostKeyPEM []byte
	// AdminKeys are public keys (authorized_keys lines, or paths of files
	// of them) the composition root adds to authorized_keys as admins on
	// start if missing: PARLEY_ADMIN_KEYS, for containers. The front door
	// only names them when an admin removes one over SSH.
	AdminKeys []string
	// KeysPoll is how often authorized_keys is checked for changes.
	KeysPoll time.Duration
	// KeepaliveInterval and KeepaliveMax: a connection that misses
	// KeepaliveMax keepalives in a row is closed.
	KeepaliveInterval time.Duration
	KeepaliveMax      int
	// MaxWidth and MaxHeight clamp the window size a client may claim.
	MaxWidth, MaxHeight int
	// Defences sets the limits that keep abuse from hurting anyone else.
	Defences Defences
	// ProxyProtocol lists the peers (IP addresses or CIDR ranges) trusted to
	// open each connection with a PROXY protocol header (v1 or v2) giving
	// the client's address, as Fly's proxy_proto handler, HAProxy or nginx
	// stream do. Connections from those peers must carry one; a header
	// from any other peer gets the connection closed, never believed.
	// Empty (the default): no header is parsed at all.
	ProxyProtocol []string
	// Conns counts connections and authentication results; nil discards.
	Conns ConnObserver
	// WebSignIn makes a one-time link that signs a browser in as the
	// identity (`ssh host web`, webexec.go); nil: no web page is served.
	WebSignIn func(id string) (string, error)
	// WebInviteLink, if set, is the page's link for an invite code
	// (`ssh host invite` prints it too).
	WebInviteLink func(code string) string
	// WebEnded, if set, ends the browser sessions of an identity whose
	// passkeys or account were removed (webaccounts.go).
	WebEnded func(identity string)
	// Accounts are the browser-only people and Passkeys everyone's
	// passkeys (webaccounts.go); nil keeps them in memory.
	Accounts access.Accounts
	Passkeys access.PasskeyStore
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger

	// Hub is the chat, built from a room.Config that RoomHooks filled in.
	// Required.
	Hub *room.Hub
	// Hooks are the hub's callbacks RoomHooks returned; New binds them to
	// the Server. Required.
	Hooks *Hooks
	// Keys is authorized_keys, opened (and seeded) already. Required.
	Keys *keys.Store
	// Access holds the bans and invites. Required.
	Access *access.Control
	// StoreReady reports whether the storage behind the hub answers (for
	// Ready); nil when there is none to ask.
	StoreReady func(context.Context) error
	// Started is what the composition root did on start, for Startup.
	Started Started
	// Cluster, when not nil, tells the other nodes of kicks and mutes
	// (moderation.Cluster); nil on a single node.
	Cluster moderation.Cluster
}

// Started is what the composition root did before the front door opened,
// told to the operator by Startup.
type Started struct {
	// Seeded is what was imported from ~/.ssh (and what was not, and why).
	Seeded keys.SeedResult
	// Imported are the fingerprints PARLEY_ADMIN_KEYS added.
	Imported []string
	// History says where messages are kept, as one line.
	History string
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		DataDir:           DefaultDataDir,
		KeysPoll:          time.Second,
		KeepaliveInterval: 30 * time.Second,
		KeepaliveMax:      3,
		MaxWidth:          400,
		MaxHeight:         200,
		Defences:          Defences{ChannelsPerConn: DefaultChannelsPerConn},
	}
}

// DefaultDataDir is the data dir when none is given.
const DefaultDataDir = "data"

// DefaultPort is the SSH port parley listens on when no address is given.
const DefaultPort = "2222"

// Server is a running SSH front door: listener, host key, sessions.
type Server struct {
	// testExecHook, when set (by tests), runs before every exec command.
	testExecHook func(command string)

	cfg      Config
	log      *slog.Logger
	hub      *room.Hub
	keys     *keys.Store
	ssh      *ssh.Server
	hostKey  gossh.Signer
	newKey   bool
	stop     context.CancelFunc
	watchers sync.WaitGroup
	conns    ConnObserver
	gate     *guard.Gate
	sessions *guard.Sessions
	keyConns *guard.Sessions // authenticated connections per key
	live     liveConns       // the same connections, to close those of a key no longer allowed (liveconns.go)
	telling  chan struct{}   // semaphore: refused connections being told why (defences.go)
	proxy    proxyTrust      // nil without Config.ProxyProtocol
	access   *access.Control // bans and invites (admin.go, guest.go)

	// mod does what admins do, and whois (admin.go); execs are the commands
	// of ssh host COMMAND (exec.go). Both are set once in New.
	mod   *moderation.Service
	execs []execCommand

	// keysMu serialises this process's edits of authorized_keys (keys
	// over SSH, join).
	keysMu    sync.Mutex
	joinLimit *guard.Limiter // join attempts per source
	trim      *burstTrim     // when to hand memory back after a crowd arrived (trim.go); shared with Hooks
	expiry    expiryTimer    // disconnects keys when their expiry-time passes (revoke.go)

	mu        sync.Mutex
	closing   bool           // guarded by mu: no new sessions once set
	listeners []net.Listener // guarded by mu: what Serve was given, closed by Close
	handlers  sync.WaitGroup // session handlers running; Add only under mu while !closing
}

// versionName is the server's name in the SSH version line.
const (
	versionName   = "parley"
	serverVersion = "SSH-2.0-" + versionName
)

// Paths under the data dir.
const (
	loginGrace  = 30 * time.Second
	hostKeyFile = "ssh/host_ed25519"
	motdFile    = "motd"
	maxMOTD     = moderation.MaxMOTD
)

// Hooks are the hub's questions that the SSH front door answers: who is an
// admin now and whether a key may still act (from authorized_keys as loaded
// now, revoke.go), which names keys reserve, the message of the day, and
// the message flow that delays the memory trim (trim.go). RoomHooks makes
// them before the hub exists; New binds them to its Server. Until then
// (while nobody can be connected) no one is an admin and every key is
// valid. Safe for concurrent use.
type Hooks struct {
	srv  atomic.Pointer[Server] // set once by New
	trim *burstTrim
}

// RoomHooks fills in rc's callbacks that the front door answers (Admin,
// Valid, Reserved, MOTD, and Observer, wrapped) from ks and dataDir, and
// returns the Hooks to pass to New with the hub built from rc.
func RoomHooks(rc *room.Config, ks *keys.Store, dataDir string) *Hooks {
	h := &Hooks{trim: &burstTrim{burst: trimBurst, quiet: trimQuiet}}
	if rc.Observer == nil {
		rc.Observer = room.NopObserver{}
	}
	rc.Observer = activityObserver{Observer: rc.Observer, trim: h.trim}
	rc.Reserved = func(name string) (string, bool) { return ks.Current().NameOwner(name) }
	// Asked at every use: a demoted or expired key loses the rights at once (revoke.go).
	rc.Admin = func(id string) bool {
		s := h.srv.Load()
		return s != nil && s.isAdmin(id)
	}
	rc.Valid = func(id string) error {
		if s := h.srv.Load(); s != nil {
			return s.keyValid(id)
		}
		return nil
	}
	rc.MOTD = func() string { return readMOTD(filepath.Join(dataDir, motdFile)) }
	return h
}

// New prepares the SSH front door over the hub, keys and access lists in
// cfg: host key, admin commands, the keys watcher. It does not listen yet;
// call Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Hub == nil || cfg.Hooks == nil || cfg.Keys == nil || cfg.Access == nil {
		return nil, errors.New("server: Config.Hub, Hooks, Keys and Access are required (app.New builds them)")
	}
	d := Defaults()
	if cfg.DataDir == "" {
		cfg.DataDir = d.DataDir
	}
	if cfg.KeysPoll <= 0 {
		cfg.KeysPoll = d.KeysPoll
	}
	if cfg.KeepaliveInterval <= 0 {
		cfg.KeepaliveInterval = d.KeepaliveInterval
	}
	if cfg.KeepaliveMax <= 0 {
		cfg.KeepaliveMax = d.KeepaliveMax
	}
	if cfg.MaxWidth <= 0 {
		cfg.MaxWidth = d.MaxWidth
	}
	if cfg.MaxHeight <= 0 {
		cfg.MaxHeight = d.MaxHeight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Conns == nil {
		cfg.Conns = nopConns{}
	}
	if cfg.Accounts == nil {
		cfg.Accounts = access.NewMemoryAccounts()
	}
	if cfg.Passkeys == nil {
		cfg.Passkeys = access.NewMemoryPasskeys()
	}
	if cfg.Defences.ChannelsPerConn <= 0 {
		cfg.Defences.ChannelsPerConn = d.Defences.ChannelsPerConn
	}
	s := &Server{cfg: cfg, log: cfg.Logger, conns: cfg.Conns,
		hub:      cfg.Hub,
		keys:     cfg.Keys,
		access:   cfg.Access,
		trim:     cfg.Hooks.trim,
		gate:     guard.NewGate(cfg.Defences.Gate),
		sessions: guard.NewSessions(cfg.Defences.SessionsPerKey, cfg.Defences.SessionsPerSource),
		keyConns: guard.NewConnections(cfg.Defences.ConnsPerKey),
		telling:  make(chan struct{}, maxTelling),
	}
	if len(cfg.ProxyProtocol) > 0 {
		p, err := parseTrusted(cfg.ProxyProtocol)
		if err != nil {
			return nil, err
		}
		s.proxy = p
	}
	var err error
	s.hostKey, s.newKey, err = loadHostKey(s.path(hostKeyFile), cfg.HostKeyPEM)
	if err != nil {
		return nil, err
	}
	s.joinLimit = newJoinLimiter()
	if err := s.registerAdminCommands(); err != nil {
		return nil, err
	}
	if !cfg.Hooks.srv.CompareAndSwap(nil, s) {
		return nil, errors.New("server: these Hooks are bound to another Server already")
	}

	s.ssh, err = wish.NewServer(
		wish.WithVersion(versionName),
		func(srv *ssh.Server) error {
			srv.AddHostKey(s.hostKey)
			srv.ConnCallback = s.admit
			srv.ServerConfigCallback = func(ctx ssh.Context) *gossh.ServerConfig {
				return &gossh.ServerConfig{
					VerifiedPublicKeyCallback: func(_ gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
						return perms, s.verified(ctx, key)
					},
				}
			}
			srv.ChannelHandlers = map[string]ssh.ChannelHandler{"session": s.sessionChannel}
			// The login grace time: a connection must finish authenticating
			// within it, however slowly it trickles bytes (the deadline is
			// absolute). Guests, who pass the handshake, have their own
			// timer (guest.go).
			srv.HandshakeTimeout = loginGrace
			return nil
		},
		wish.WithPublicKeyAuth(s.authPublicKey),
		wish.WithKeyboardInteractiveAuth(s.authRefusal),
		wish.WithMiddleware(s.handle),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.watchers.Add(3)
	go func() {
		defer s.watchers.Done()
		s.keys.Watch(ctx, cfg.KeysPoll, s.keysChanged)
	}()
	go func() {
		defer s.watchers.Done()
		s.watchAccounts(ctx, cfg.KeysPoll) // webaccounts.go
	}()
	go func() {
		defer s.watchers.Done()
		s.trimLoop(ctx)
	}()
	s.armExpiry() // revoke.go: the nearest expiry-time disconnects its key
	return s, nil
}

func (s *Server) path(rel string) string { return filepath.Join(s.cfg.DataDir, rel) }

// Hub returns the server's rooms.
func (s *Server) Hub() *room.Hub { return s.hub }

// Keys returns the authorized keys store.
func (s *Server) Keys() *keys.Store { return s.keys }

// HostKeyFingerprint returns the SHA256 fingerprint users should see on
// first connect.
func (s *Server) HostKeyFingerprint() string { return gossh.FingerprintSHA256(s.hostKey.PublicKey()) }

// Serve accepts connections on ln until Close. It returns nil after Close.
// With Config.ProxyProtocol, connections are read through a PROXY protocol
// listener first (proxy.go).
func (s *Server) Serve(ln net.Listener) error {
	if s.proxy != nil {
		ln = s.proxyListener(ln)
	}
	// The SSH library tracks a listener only once its Serve runs: a Close
	// that comes first would leave it accepting for ever. So the server
	// keeps its listeners too, and Close closes them.
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	err := s.ssh.Serve(ln)
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if errors.Is(err, ssh.ErrServerClosed) || closing {
		return nil
	}
	return err
}

// Close tells everyone the server is going down, ends their sessions,
// waits (until ctx ends at most) for each to say goodbye, then closes the
// listener and every connection.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	s.stop()
	s.expiry.stop()
	s.watchers.Wait()
	err := s.hub.Close(ctx, "The server is shutting down. Please reconnect in a moment.")
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("sessions still running at shutdown: %w", ctx.Err()))
	}
	if cerr := s.ssh.Close(); cerr != nil && !errors.Is(cerr, ssh.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("closing ssh: %w", cerr))
	}
	s.mu.Lock()
	listeners := s.listeners
	s.mu.Unlock()
	for _, ln := range listeners {
		_ = ln.Close() // already closed by the library, unless its Serve had not started
	}
	// The hub has stored everything it accepted: the composition root may
	// close the store now.
	return err
}

// Ready reports whether the server can take people: not shutting down, and
// its store (when it has one) answers.
func (s *Server) Ready(ctx context.Context) error {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return errors.New("shutting down")
	}
	if s.cfg.StoreReady != nil {
		if err := s.cfg.StoreReady(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// enter registers a session handler unless the server is closing.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	s.trim.arrive(time.Now())
	return true
}

// ReloadKeys re-reads authorized_keys now (for SIGHUP) and applies it.
func (s *Server) ReloadKeys() error {
	if _, err := s.keys.Reload(); err != nil {
		return fmt.Errorf("reload authorized keys: %w", err)
	}
	s.keysChanged(s.keys.Current(), nil)
	return nil
}

// motd reads the message of the day; it is re-read on every join so the
// operator can edit it live.
func (s *Server) motd() string { return readMOTD(s.path(motdFile)) }

// readMOTD reads the message of the day at path ("" when there is none).
func readMOTD(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMOTD))
	if err != nil {
		return ""
	}
	text, _ := safetext.Message(string(b))
	return text
}

// Startup describes the running server for the operator: host key, keys,
// and how to join.
func (s *Server) Startup(addr net.Addr) string {
	var b strings.Builder
	host, port := "localhost", DefaultPort
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
		if !ta.IP.IsUnspecified() && !ta.IP.IsLoopback() {
			host = ta.IP.String()
		}
	}
	if s.newKey {
		fmt.Fprintf(&b, "Generated a new host key in %s\n", s.path(hostKeyFile))
	}
	fmt.Fprintf(&b, "parley is listening on %s\n", addr)
	fmt.Fprintf(&b, "Host key fingerprint: %s (users see this on first connect)\n", s.HostKeyFingerprint())
	for _, e := range s.cfg.Started.Seeded.Imported {
		fmt.Fprintf(&b, "Imported %s as admin %q from your ~/.ssh%s\n", e.Fingerprint, e.Name, seedLimits(e))
	}
	for _, sk := range s.cfg.Started.Seeded.Skipped {
		fmt.Fprintf(&b, "Not imported: %s\n", sk)
	}
	for _, fp := range s.cfg.Started.Imported {
		fmt.Fprintf(&b, "Added admin key %s from PARLEY_ADMIN_KEYS\n", fp)
	}
	for _, e := range s.keys.Problems() {
		fmt.Fprintf(&b, "authorized_keys: %s\n", e.Error())
	}
	n := s.keys.Current().Len()
	fmt.Fprintf(&b, "%d key(s) authorized in %s\n", n, s.keys.Path())
	if h := s.cfg.Started.History; h != "" {
		b.WriteString(h + "\n")
	}
	if n == 0 {
		fmt.Fprintf(&b, "No one can join yet. Add your public key as an admin, one key per line, to %s:\n", s.keys.Path())
		fmt.Fprintf(&b, "  echo \"admin $(cat ~/.ssh/id_ed25519.pub)\" >> %s\n", shellWord(s.keys.Path()))
		b.WriteString("(no key yet? create one with: ssh-keygen -t ed25519) The file is re-read when it changes.\n")
	}
	fmt.Fprintf(&b, "Join with:  ssh -p %s %s\n", port, host)
	return b.String()
}
