package moderation

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"parley/access"
	"parley/command"
	"parley/room"
	"parley/safetext"
)

// MaxMOTD is the longest message of the day, in bytes.
const MaxMOTD = 4096

// Keys is the port to the authorized keys as they are loaded now.
type Keys interface {
	// KeyName returns the name of the listed key with this fingerprint
	// ("" when it has none); ok is false when the key is not listed.
	KeyName(fingerprint string) (name string, ok bool)
	// KeyNamed returns the fingerprint of the listed key whose name folds
	// equal to name.
	KeyNamed(name string) (fingerprint string, ok bool)
	// Fingerprints lists the fingerprints of the listed keys.
	Fingerprints() []string
	// Admin reports whether the key is an admin key now (listed, with the
	// admin option, not expired).
	Admin(fingerprint string) bool
}

// MOTDFile is the port to where the message of the day is kept.
type MOTDFile interface {
	// Read returns the message of the day, "" when there is none.
	Read() string
	// Write replaces it atomically; "" removes it.
	Write(text string) error
}

// Config is what a Service acts on.
type Config struct {
	Hub    *room.Hub
	Access *access.Control
	Keys   Keys
	MOTD   MOTDFile
	Logger *slog.Logger // nil: slog.Default()
	// Now is the clock (nil: time.Now), for ban and mute terms.
	Now func() time.Time
	// Cluster, when not nil, tells the other nodes sharing this one's rooms
	// of kicks and mutes (cluster.go).
	Cluster Cluster
}

// Service carries out moderation. Errors made with room.Errorf are safe to
// show; others are logged by the caller and shown generically. Every action
// is logged at info with who did what to whom.
type Service struct {
	hub     *room.Hub
	access  *access.Control
	keys    Keys
	motd    MOTDFile
	log     *slog.Logger
	now     func() time.Time
	cluster Cluster // nil: one node
}

// New returns a Service over cfg.
func New(cfg Config) *Service {
	s := &Service{hub: cfg.Hub, access: cfg.Access, keys: cfg.Keys, motd: cfg.MOTD, log: cfg.Logger, now: cfg.Now, cluster: cfg.Cluster}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// LogAdmin logs an admin action at info: who did what to whom, with attrs.
// Front doors use it for the admin actions they carry out themselves
// (invites, key edits), so that every admin action is logged alike.
func (s *Service) LogAdmin(a command.Actor, action string, t Target, attrs ...any) {
	s.log.Info("admin action", append([]any{"action", action, "by", a.ID, "by_name", a.Name,
		"target", t.ID, "target_name", t.Label()}, attrs...)...)
}

// StillAdmin refuses an actor whose key is no longer an admin key (the
// chat asked when the command was typed; a demotion may have come in
// between).
func (s *Service) StillAdmin(a command.Actor) error {
	if !s.keys.Admin(a.ID) {
		return room.Errorf("your key is no longer an admin key")
	}
	return nil
}

func notYou(a command.Actor, t Target, what string) error {
	if a.ID == t.ID {
		return room.Errorf("that is you: you cannot %s yourself", what)
	}
	return nil
}

// Plural says "1 ban", "3 bans".
func Plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// Kick ends every session of the person who names, who must be connected.
func (s *Service) Kick(a command.Actor, who, reason string) (string, error) {
	find := s.resolveOnline
	if s.cluster != nil { // they may be connected to another node only
		find = s.resolve
	}
	t, err := find(who)
	if err != nil {
		return "", err
	}
	if err := notYou(a, t, "kick"); err != nil {
		return "", err
	}
	reason = safetext.Line(reason, 200)
	why := "kicked by " + a.Name
	if reason != "" {
		why += ": " + reason
	}
	n := s.hub.Kick(t.ID, why)
	s.LogAdmin(a, "kick", t, "reason", reason, "sessions", n)
	if s.cluster != nil {
		return fmt.Sprintf("Kicked %s: %s ended on this node%s.", t, Plural(n, "session"), s.shared(s.clusterKick(t.ID, why), "; the other nodes end theirs")), nil
	}
	return fmt.Sprintf("Kicked %s: %s ended.", t, Plural(n, "session")), nil
}

// ParseBan reads "NAME [DURATION] [REASON]" (DURATION may be forever or
// permanent).
func ParseBan(words []string) (who string, d time.Duration, reason string, err error) {
	if len(words) == 0 {
		return "", 0, "", command.ErrUsage
	}
	who, rest := words[0], words[1:]
	if len(rest) > 0 {
		switch w := rest[0]; {
		case w == "forever" || w == "permanent":
			rest = rest[1:]
		case w != "" && w[0] >= '0' && w[0] <= '9':
			if d, err = access.ParseDuration(w); err != nil {
				return "", 0, "", room.Errorf("%v", err)
			}
			rest = rest[1:]
		}
	}
	return who, d, strings.Join(rest, " "), nil
}

// Ban keeps the key who names out, for d (0: until unbanned), and ends its
// sessions.
func (s *Service) Ban(ctx context.Context, a command.Actor, who string, d time.Duration, reason string) (string, error) {
	t, err := s.resolve(who)
	if err != nil {
		return "", err
	}
	if err := notYou(a, t, "ban"); err != nil {
		return "", err
	}
	b := access.Ban{Fingerprint: t.ID, Name: t.Name, Reason: reason, By: a.ID, ByName: a.Name}
	if d > 0 {
		b.Until = s.now().Add(d)
	}
	if err := s.access.Ban(ctx, b); err != nil {
		return "", fmt.Errorf("ban: %w", err)
	}
	b, _ = s.access.Banned(t.ID) // as stored: reason cleaned
	why := fmt.Sprintf("banned by %s %s", a.Name, b.Term())
	if b.Reason != "" {
		why += ": " + b.Reason
	}
	n := s.hub.Kick(t.ID, why)
	s.LogAdmin(a, "ban", t, "until", untilAttr(b.Until), "reason", b.Reason, "sessions", n)
	if s.cluster != nil { // the ban is in the shared lists: every node ends its own sessions
		return fmt.Sprintf("Banned %s %s; %s ended on this node; the other nodes end theirs.", t, b.Term(), Plural(n, "session")), nil
	}
	return fmt.Sprintf("Banned %s %s; %s ended.", t, b.Term(), Plural(n, "session")), nil
}

func untilAttr(t time.Time) string {
	if t.IsZero() {
		return "lifted"
	}
	return t.UTC().Format(time.RFC3339)
}

// Unban lifts the ban of the key who names (also by the name recorded with
// the ban).
func (s *Service) Unban(ctx context.Context, a command.Actor, who string) (string, error) {
	banned := func(t Target) bool { _, ok := s.access.Banned(t.ID); return ok }
	t, err := s.Find(who, true, banned,
		room.Errorf("%s is not banned (bans lists the bans)", safetext.Line(who, 48)),
		func(t Target) error { return room.Errorf("%s is not banned (bans lists the bans)", t) })
	if err != nil {
		return "", err
	}
	b, ok, err := s.access.Unban(ctx, t.ID)
	if err != nil {
		return "", fmt.Errorf("unban: %w", err)
	}
	if !ok { // lifted meanwhile
		return "", room.Errorf("%s is not banned (bans lists the bans)", t)
	}
	if t.Label() == "" {
		t.Name = b.Name
	}
	s.LogAdmin(a, "unban", t)
	return fmt.Sprintf("Lifted the ban of %s.", t), nil
}

// Bans lists the bans in force.
func (s *Service) Bans() []access.Ban { return s.access.Bans() }

// BanList describes the bans for people, one a line.
func (s *Service) BanList() string {
	bans := s.access.Bans()
	if len(bans) == 0 {
		return "Nobody is banned."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", Plural(len(bans), "ban"))
	for _, x := range bans {
		fmt.Fprintf(&b, "\n  %s %s, by %s on %s", Target{ID: x.Fingerprint, Name: x.Name}.Long(), x.Term(), x.ByName, x.Created.UTC().Format("2006-01-02"))
		if x.Reason != "" {
			fmt.Fprintf(&b, ": %s", x.Reason)
		}
	}
	return b.String()
}

// ParseMute reads "NAME [DURATION]".
func ParseMute(words []string) (string, time.Duration, error) {
	switch len(words) {
	case 1:
		return words[0], 0, nil
	case 2:
		d, err := access.ParseDuration(words[1])
		if err != nil {
			return "", 0, room.Errorf("%v", err)
		}
		return words[0], d, nil
	}
	return "", 0, command.ErrUsage
}

// Mute stops the person who names posting, for d (0: until unmuted).
func (s *Service) Mute(a command.Actor, who string, d time.Duration) (string, error) {
	t, err := s.resolve(who)
	if err != nil {
		return "", err
	}
	if err := notYou(a, t, "mute"); err != nil {
		return "", err
	}
	var until time.Time
	term := "until unmuted"
	if d > 0 {
		until = s.now().Add(d)
		term = "until " + until.UTC().Format("2006-01-02 15:04 UTC")
	}
	s.hub.Mute(t.ID, until, a.Name)
	s.LogAdmin(a, "mute", t, "until", untilAttr(until))
	return fmt.Sprintf("Muted %s %s%s.", t, term, s.shared(s.clusterMute(t.ID, until, a.Name), "")), nil
}

// Unmute lets the person who names post again.
func (s *Service) Unmute(a command.Actor, who string) (string, error) {
	muted := func(t Target) bool { _, ok := s.hub.Muted(t.ID); return ok }
	t, err := s.Find(who, false, muted,
		room.Errorf("nobody called %s is muted", safetext.Line(who, 48)),
		func(t Target) error { return room.Errorf("%s is not muted", t) })
	if err != nil {
		return "", err
	}
	if !s.hub.Unmute(t.ID, a.Name) {
		return "", room.Errorf("%s is not muted", t)
	}
	s.LogAdmin(a, "unmute", t)
	return fmt.Sprintf("Unmuted %s%s.", t, s.shared(s.clusterUnmute(t.ID, a.Name), "")), nil
}

// MOTD returns the message of the day, "" when there is none.
func (s *Service) MOTD() string { return s.motd.Read() }

// SetMOTD replaces the message of the day ("" removes it). People see it
// when they join.
func (s *Service) SetMOTD(a command.Actor, text string) (string, error) {
	clean, _ := safetext.Message(text)
	if len(clean) > MaxMOTD {
		return "", room.Errorf("the message of the day is limited to %d bytes", MaxMOTD)
	}
	if err := s.motd.Write(clean); err != nil {
		return "", fmt.Errorf("motd: %w", err)
	}
	if clean == "" {
		s.LogAdmin(a, "motd", Target{}, "cleared", true)
		return "The message of the day is cleared.", nil
	}
	s.LogAdmin(a, "motd", Target{}, "bytes", len(clean))
	return "The message of the day is set; people see it when they join.", nil
}
