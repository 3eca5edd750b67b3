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
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"parley/access"
	"parley/guard"
	"parley/keys"
	"parley/room"
	"parley/safetext"
	"parley/store"
)

// Config is what a Server needs; main fills it from flags and environment.
// Zero fields take the defaults in Defaults.
type Config struct {
	// DataDir holds the host key, authorized_keys, motd and databases.
	DataDir string
	// HostKeyPEM, when set, is the host key (so that every node of one
	// deployment presents the same key); otherwise DataDir/ssh/host_ed25519.
	HostKeyPEM []byte
	// SeedKeys imports the keys of Home/.ssh as admins when there is no
	// authorized_keys file yet.
	SeedKeys bool
	// Home is the home directory to seed from; "" means the current user's.
	Home string
	// AdminKeys are public keys (authorized_keys lines, or paths of files
	// of them) added to authorized_keys as admins on start if missing:
	// PARLEY_ADMIN_KEYS, for containers.
	AdminKeys []string
	// KeysPoll is how often authorized_keys is checked for changes.
	KeysPoll time.Duration
	// KeepaliveInterval and KeepaliveMax: a connection that misses
	// KeepaliveMax keepalives in a row is closed.
	KeepaliveInterval time.Duration
	KeepaliveMax      int
	// MaxWidth and MaxHeight clamp the window size a client may claim.
	MaxWidth, MaxHeight int
	// Room configures the hub.
	Room room.Config
	// Store is "sqlite" (history in DataDir/parley.db, the default) or
	// "memory" (the recent messages of each room only, lost on restart).
	Store string
	// Retain deletes stored messages older than this, in the background;
	// zero keeps everything.
	Retain time.Duration
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
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		DataDir:           "data",
		SeedKeys:          true,
		KeysPoll:          time.Second,
		KeepaliveInterval: 30 * time.Second,
		KeepaliveMax:      3,
		MaxWidth:          400,
		MaxHeight:         200,
	}
}

// Server is a running parley: SSH listener, keys, rooms.
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
	seeded   keys.SeedResult
	imported []string
	stop     context.CancelFunc
	watchers sync.WaitGroup
	conns    ConnObserver
	store    *store.SQLite // nil with Store "memory"
	gate     *guard.Gate
	sessions *guard.Sessions
	keyConns *guard.Sessions // authenticated connections per key
	live     liveConns       // the same connections, to close those of a key no longer allowed (liveconns.go)
	telling  chan struct{}   // semaphore: refused connections being told why (defences.go)
	proxy    proxyTrust      // nil without Config.ProxyProtocol
	access   *access.Control // bans and invites (admin.go, guest.go)
	// keysMu serialises this process's edits of authorized_keys (keys
	// over SSH, join).
	keysMu    sync.Mutex
	joinLimit *guard.Limiter // join attempts per source
	trim      burstTrim      // when to hand memory back after a crowd arrived (trim.go)
	expiry    expiryTimer    // disconnects keys when their expiry-time passes (revoke.go)

	mu       sync.Mutex
	closing  bool           // guarded by mu: no new sessions once set
	handlers sync.WaitGroup // session handlers running; Add only under mu while !closing
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
	keysFile    = "authorized_keys"
	dbFile      = "parley.db"
	motdFile    = "motd"
	maxMOTD     = 4096
)

// New prepares a server: data dir, host key, authorized keys and rooms. It
// does not listen yet; call Serve.
func New(cfg Config) (*Server, error) {
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
	if cfg.Defences.ChannelsPerConn <= 0 {
		cfg.Defences.ChannelsPerConn = 2
	}
	s := &Server{cfg: cfg, log: cfg.Logger, conns: cfg.Conns,
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

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	if err := checkWritable(cfg.DataDir); err != nil {
		return nil, err
	}
	// As OpenSSH's StrictModes: whoever can write these can let themselves in.
	if err := keys.CheckPermissions(s.path(keysFile)); err != nil {
		return nil, err
	}
	var err error
	s.hostKey, s.newKey, err = loadHostKey(s.path(hostKeyFile), cfg.HostKeyPEM)
	if err != nil {
		return nil, err
	}

	keysPath := s.path(keysFile)
	if cfg.SeedKeys {
		home := cfg.Home
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			if s.seeded, err = keys.Seed(keysPath, home); err != nil {
				return nil, fmt.Errorf("seed authorized keys: %w", err)
			}
		}
	} else if _, err := keys.Seed(keysPath, ""); err != nil { // the file with its header, no keys
		return nil, fmt.Errorf("create authorized keys: %w", err)
	}
	if s.imported, err = importAdminKeys(keysPath, cfg.AdminKeys); err != nil {
		return nil, err
	}
	if s.keys, err = keys.Open(keysPath, s.log); err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}

	switch cfg.Store {
	case "", "sqlite":
		st, err := store.Open(context.Background(), s.path(dbFile))
		if err != nil {
			return nil, fmt.Errorf("history store: %w", err)
		}
		s.store = st
		cfg.Room.Private, cfg.Room.Prefs = st, st
		if cfg.Room.Log == nil { // a shared Log (main's natswire.go) brings its own History; SQLite is not fed from it yet
			cfg.Room.History, cfg.Room.Search = st, st
		}
		cfg.Room.Rooms = st // room access and memberships outlive restarts
	case "memory":
	default:
		return nil, fmt.Errorf("store %q: use sqlite or memory", cfg.Store)
	}
	var accessStore access.Store = access.NewMemory()
	if s.store != nil {
		accessStore = s.store
	}
	if s.access, err = access.Open(context.Background(), accessStore, nil); err != nil {
		s.closeStore()
		return nil, fmt.Errorf("access lists: %w", err)
	}
	s.joinLimit = newJoinLimiter()
	rc := cfg.Room
	if rc.Observer == nil {
		rc.Observer = room.NopObserver{}
	}
	s.trim = burstTrim{burst: trimBurst, quiet: trimQuiet}
	rc.Observer = activityObserver{Observer: rc.Observer, trim: &s.trim}
	rc.Logger = s.log
	rc.Reserved = func(name string) (string, bool) { return s.keys.Current().NameOwner(name) }
	rc.Admin = s.isAdmin // asked at every use: a demoted or expired key loses the rights at once (revoke.go)
	rc.Valid = s.keyValid
	rc.MOTD = s.motd
	rc.MessageLimit = guard.NewLimiter(cfg.Defences.Messages)
	notices := cfg.Defences.Notices
	if notices.Rate == 0 && notices.Burst == 0 {
		notices = guard.NoticeLimiterConfig()
	}
	rc.NoticeLimit = guard.NewLimiter(notices)
	if s.hub, err = room.New(rc); err != nil {
		s.closeStore()
		return nil, err
	}
	if err := s.registerAdminCommands(); err != nil {
		s.closeStore()
		return nil, err
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
	s.watchers.Add(2)
	go func() {
		defer s.watchers.Done()
		s.keys.Watch(ctx, cfg.KeysPoll, s.keysChanged)
	}()
	go func() {
		defer s.watchers.Done()
		s.trimLoop(ctx)
	}()
	s.armExpiry() // revoke.go: the nearest expiry-time disconnects its key
	if s.store != nil && cfg.Retain > 0 {
		s.watchers.Add(1)
		go func() {
			defer s.watchers.Done()
			s.retain(ctx)
		}()
	}
	return s, nil
}

// retain deletes messages older than Retain: at start, then hourly.
func (s *Server) retain(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := s.store.DeleteBefore(ctx, time.Now().Add(-s.cfg.Retain))
		if err != nil && ctx.Err() == nil {
			s.log.Error("retention", "err", err)
		} else if n > 0 {
			s.log.Info("retention: deleted old messages", "count", n, "older_than", s.cfg.Retain.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) closeStore() error {
	if s.store == nil {
		return nil
	}
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
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
	err := s.ssh.Serve(ln)
	if errors.Is(err, ssh.ErrServerClosed) {
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
	// The hub has stored everything it accepted; now the store may go.
	return errors.Join(err, s.closeStore())
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
	if s.store != nil {
		if err := s.store.Ping(ctx); err != nil {
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
func (s *Server) motd() string {
	f, err := os.Open(s.path(motdFile))
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
	host, port := "localhost", "2222"
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
	for _, e := range s.seeded.Imported {
		fmt.Fprintf(&b, "Imported %s as admin %q from your ~/.ssh%s\n", e.Fingerprint, e.Name, seedLimits(e))
	}
	for _, sk := range s.seeded.Skipped {
		fmt.Fprintf(&b, "Not imported: %s\n", sk)
	}
	for _, fp := range s.imported {
		fmt.Fprintf(&b, "Added admin key %s from PARLEY_ADMIN_KEYS\n", fp)
	}
	for _, e := range s.keys.Problems() {
		fmt.Fprintf(&b, "authorized_keys: %s\n", e.Error())
	}
	n := s.keys.Current().Len()
	fmt.Fprintf(&b, "%d key(s) authorized in %s\n", n, s.keys.Path())
	if s.store != nil {
		fmt.Fprintf(&b, "History is kept in %s\n", s.store.Path())
	} else {
		b.WriteString("History is kept in memory only (--store memory): it is lost on restart\n")
	}
	if n == 0 {
		fmt.Fprintf(&b, "No one can join yet. Add your public key as an admin, one key per line, to %s:\n", s.keys.Path())
		fmt.Fprintf(&b, "  echo \"admin $(cat ~/.ssh/id_ed25519.pub)\" >> %s\n", shellWord(s.keys.Path()))
		b.WriteString("(no key yet? create one with: ssh-keygen -t ed25519) The file is re-read when it changes.\n")
	}
	fmt.Fprintf(&b, "Join with:  ssh -p %s %s\n", port, host)
	return b.String()
}
