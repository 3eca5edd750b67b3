package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"parley/access"
	"parley/cli"
	"parley/command"
	"parley/keys"
	"parley/moderation"
	"parley/room"
	"parley/safetext"
)

// What admins do is the moderation package's: the chat (/ban) and
// `ssh host ban` call the same moderation.Service. This file adapts it to
// SSH: the ports it needs (the keys, the motd file) and the admin commands
// that only exist over SSH (motd, invite, keys).

// keyBook is moderation.Keys over the authorized keys loaded now, and the
// browser-only accounts (webaccounts.go), which are named and banned as keys
// are.
type keyBook struct{ s *Server }

var _ moderation.Keys = keyBook{}

// KeyName implements moderation.Keys.
func (k keyBook) KeyName(fp string) (string, bool) {
	if isAccount(fp) {
		return k.s.accountName(fp)
	}
	e, ok := k.s.keys.Current().ByFingerprint(fp)
	return e.Name, ok
}

// KeyNamed implements moderation.Keys.
func (k keyBook) KeyNamed(name string) (string, bool) {
	e, ok := k.s.keys.Current().ByName(name)
	if !ok {
		return k.s.accountReserved(name)
	}
	return e.Fingerprint, ok
}

// Fingerprints implements moderation.Keys.
func (k keyBook) Fingerprints() []string {
	entries := k.s.keys.Current().Entries()
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Fingerprint
	}
	return append(out, k.s.accountIDs()...)
}

// Admin implements moderation.Keys.
func (k keyBook) Admin(fp string) bool { return k.s.isAdmin(fp) }

// motdStore is moderation.MOTDFile: the file motd in the data directory,
// re-read on every join so the operator can edit it live, and replaced
// atomically so that a join never reads half of it.
type motdStore struct{ s *Server }

var _ moderation.MOTDFile = motdStore{}

// Read implements moderation.MOTDFile.
func (m motdStore) Read() string { return m.s.motd() }

// Write implements moderation.MOTDFile.
func (m motdStore) Write(text string) error {
	path := m.s.path(motdFile)
	if text == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	tmp, err := os.CreateTemp(m.s.cfg.DataDir, ".motd.*.tmp")
	if err != nil {
		return err
	}
	_, werr := io.WriteString(tmp, text+"\n")
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// registerAdminCommands builds the moderation service and adds its
// commands to the chat's registry and to the exec commands.
func (s *Server) registerAdminCommands() error {
	s.mod = moderation.New(moderation.Config{Hub: s.hub, Access: s.access, Keys: keyBook{s}, MOTD: motdStore{s}, Logger: s.log, Cluster: s.cfg.Cluster})
	shared := s.mod.Commands()
	if err := s.hub.Commands().RegisterShared(shared, s.mod.StillAdmin); err != nil {
		return err
	}
	s.execs = execRegistry(append(s.hub.SharedCommands(), shared...))
	return nil
}

// The admin commands that exist only over SSH.

func (x *execCall) actor() command.Actor {
	return command.Actor{ID: x.entry.Fingerprint, Name: x.name, Admin: x.entry.Admin}
}

// report prints what an admin action did, or why it did not.
func (x *execCall) report(msg string, err error) int {
	if errors.Is(err, command.ErrUsage) {
		return x.usage()
	}
	if err != nil {
		return x.fail(err)
	}
	fmt.Fprintln(x.stdout, msg)
	return cli.ExitOK
}

func (x *execCall) motd(fs *flag.FlagSet) func([]string) int {
	clear := fs.Bool("clear", false, "remove the message of the day")
	return func(pos []string) int {
		switch {
		case *clear && len(pos) > 0:
			return x.usage()
		case *clear:
			return x.report(x.s.mod.SetMOTD(x.actor(), ""))
		case len(pos) == 0:
			if m := x.s.mod.MOTD(); m != "" {
				fmt.Fprintln(x.stdout, m)
			} else {
				fmt.Fprintln(x.stderr, "(no message of the day; motd TEXT sets one)")
			}
			return cli.ExitOK
		case len(pos) == 1 && pos[0] == "-":
			b, err := io.ReadAll(io.LimitReader(x.stdin, moderation.MaxMOTD+1))
			if err != nil {
				return x.fail(err)
			}
			if len(b) > moderation.MaxMOTD {
				return x.fail(room.Errorf("the message of the day is limited to %d bytes", moderation.MaxMOTD))
			}
			if strings.TrimSpace(string(b)) == "" {
				return x.usage()
			}
			return x.report(x.s.mod.SetMOTD(x.actor(), string(b)))
		}
		return x.report(x.s.mod.SetMOTD(x.actor(), strings.Join(pos, " ")))
	}
}

func (x *execCall) invite(fs *flag.FlagSet) func([]string) int {
	uses := fs.Int("uses", 1, fmt.Sprintf("how many new keys the code may add (1 to %d)", access.MaxUses))
	ttl := fs.String("ttl", "24h", "how long the code stays valid (for example 30m, 24h, 7d)")
	return func([]string) int {
		d, err := access.ParseDuration(*ttl)
		if err != nil {
			fmt.Fprintln(x.stderr, "invite: --ttl:", err)
			return cli.ExitUsage
		}
		if *uses < 1 || *uses > access.MaxUses || d < time.Minute || d > access.MaxTTL {
			fmt.Fprintf(x.stderr, "invite: --uses must be 1 to %d and --ttl between 1m and %s\n", access.MaxUses, access.FormatDuration(access.MaxTTL))
			return cli.ExitUsage
		}
		a := x.actor()
		invite, inv, err := x.s.access.CreateInvite(x.ctx, *uses, d, a.ID, a.Name)
		if err != nil {
			return x.fail(err)
		}
		x.s.mod.LogAdmin(a, "invite", moderation.Target{}, "uses", *uses, "expires", inv.Expires.UTC().Format(time.RFC3339))
		port := "2222"
		if _, p, err := net.SplitHostPort(x.sess.LocalAddr().String()); err == nil {
			port = p
		}
		fmt.Fprintf(x.stdout, "Invite code: %s\n", invite)
		fmt.Fprintf(x.stdout, "Good for %s until %s. It is shown only this once.\n", moderation.Plural(*uses, "new key"), inv.Expires.UTC().Format("2006-01-02 15:04 UTC"))
		fmt.Fprintf(x.stdout, "The newcomer runs, with the name they want as the user name:\n  ssh -p %s NAME@HOST join %s\n", port, invite)
		if link := x.webInviteLink(invite); link != "" {
			fmt.Fprintf(x.stdout, "or, with no SSH key, opens in a browser (picks a name, creates a passkey):\n  %s\n", link)
		}
		return cli.ExitOK
	}
}

// keys is `keys add|list|remove` over SSH: the same command as the local
// CLI, on the server's file, without file access, applied at once. Its
// arguments are handed on unparsed.
func (x *execCall) keys(args []string) int {
	a := x.actor()
	if len(args) == 2 && (args[0] == "remove" || args[0] == "rm") && !strings.HasPrefix(args[1], "-") {
		// keys remove takes the name people see too: find the key here,
		// and hand the command its fingerprint.
		fp, code, ok := x.keyToRemove(args[1])
		if !ok {
			return code
		}
		args = []string{args[0], fp}
	}
	k := &cli.KeysCommand{
		Prog:   "keys",
		Path:   x.s.keys.Path(),
		Stdin:  x.stdin,
		Stdout: x.stdout,
		Stderr: x.stderr,
		Lock:   &x.s.keysMu,
		Pinned: x.s.pinnedNote,
		Web:    x.s.webAccess(), // webaccounts.go
		Protect: func(e keys.Entry) error {
			if e.Fingerprint == a.ID {
				return errors.New("that is the key you are connected with; another admin, or the operator's parley keys, can remove it")
			}
			return nil
		},
		Changed: func(action string, e keys.Entry) {
			x.s.mod.LogAdmin(a, "keys "+action, moderation.Target{ID: e.Fingerprint, Key: e.Name}, "admin", e.Admin)
			if err := x.s.ReloadKeys(); err != nil {
				x.log.Error("keys: reload after a change", "err", err)
			}
		},
	}
	return k.Run(args)
}

// keyToRemove finds the key in authorized_keys that who names for keys
// remove (see moderation.Service.Find), says which it is when it was
// named otherwise than by its key name, and returns its fingerprint. A
// name that matches no listed key is handed on as it is: keys remove
// explains, and removes a refused line by its fingerprint.
func (x *execCall) keyToRemove(who string) (fp string, code int, ok bool) {
	snap := x.s.keys.Current()
	listed := func(t moderation.Target) bool { _, ok := snap.ByFingerprint(t.ID); return ok }
	t, err := x.s.mod.Find(who, false, listed, nil, nil)
	if err != nil {
		return "", x.report("", err), false
	}
	if t.ID == "" {
		return who, 0, true
	}
	if safetext.Fold(who) != safetext.Fold(t.Key) && t.ID != keys.NormalizeFingerprint(who) {
		fmt.Fprintf(x.stdout, "%s is %s.\n", safetext.Line(who, 48), t)
	}
	return t.ID, 0, true
}
