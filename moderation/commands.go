package moderation

import (
	"fmt"
	"strings"
	"time"

	"parley/command"
	"parley/room"
	"parley/safetext"
)

// Commands declares the commands of moderation, once for the chat line and
// `ssh host NAME`; the front doors adapt them (room.Shared, server's exec
// runner) and generate their help from these.
func (s *Service) Commands() []command.Command {
	both := command.Chat | command.Exec
	return []command.Command{
		{Spec: command.Spec{Name: "kick", Args: "NAME [REASON]", Help: "disconnect someone",
			Admin: true, Min: 1, Max: command.Many, On: both},
			Run: func(c *command.Call) (command.Reply, error) {
				return text(s.Kick(c.By, c.Words[0], c.Rest(1)))
			}},
		{Spec: command.Spec{Name: "ban", Args: "NAME [DURATION] [REASON]", Help: "keep someone's key out, for a while (30m, 12h, 7d) or until unbanned",
			Admin: true, Min: 1, Max: command.Many, On: both},
			Run: func(c *command.Call) (command.Reply, error) {
				who, d, reason, err := ParseBan(c.Words)
				if err != nil {
					return command.Reply{}, err
				}
				return text(s.Ban(c.Ctx, c.By, who, d, reason))
			}},
		{Spec: command.Spec{Name: "unban", Args: "NAME|FINGERPRINT", Help: "lift a ban",
			Admin: true, Min: 1, Max: 1, On: both},
			Run: func(c *command.Call) (command.Reply, error) { return text(s.Unban(c.Ctx, c.By, c.Words[0])) }},
		{Spec: command.Spec{Name: "bans", Help: "list the bans", Admin: true, JSON: true, On: both},
			Run: func(c *command.Call) (command.Reply, error) { return s.bansReply(), nil }},
		{Spec: command.Spec{Name: "mute", Args: "NAME [DURATION]", Help: "stop someone posting, for a while (10m, 1h) or until unmuted",
			Admin: true, Min: 1, Max: 2, On: both},
			Run: func(c *command.Call) (command.Reply, error) {
				who, d, err := ParseMute(c.Words)
				if err != nil {
					return command.Reply{}, err
				}
				return text(s.Mute(c.By, who, d))
			}},
		{Spec: command.Spec{Name: "unmute", Args: "NAME", Help: "let someone post again",
			Admin: true, Min: 1, Max: 1, On: both},
			Run: func(c *command.Call) (command.Reply, error) { return text(s.Unmute(c.By, c.Words[0])) }},
		{Spec: command.Spec{Name: "whois", Args: "NAME", Help: "who someone is: key, fingerprint, rooms, idle time",
			JSON: true, Min: 1, Max: 1, On: both},
			Run: func(c *command.Call) (command.Reply, error) {
				w, err := s.Whois(c.By, c.Words[0])
				return command.Reply{Text: w.String(), Data: w}, err
			}},
	}
}

// text makes a reply of an action's answer.
func text(msg string, err error) (command.Reply, error) { return command.Reply{Text: msg}, err }

// BanJSON is one ban in `bans --json`.
type BanJSON struct {
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name,omitempty"`
	Reason      string `json:"reason,omitempty"`
	By          string `json:"by"`
	ByName      string `json:"by_name"`
	Created     string `json:"created"`
	Until       string `json:"until,omitempty"`
}

func (s *Service) bansReply() command.Reply {
	out := []BanJSON{}
	for _, b := range s.access.Bans() {
		j := BanJSON{Fingerprint: b.Fingerprint, Name: b.Name, Reason: b.Reason, By: b.By, ByName: b.ByName, Created: b.Created.UTC().Format(time.RFC3339)}
		if !b.Until.IsZero() {
			j.Until = b.Until.UTC().Format(time.RFC3339)
		}
		out = append(out, j)
	}
	return command.Reply{Text: s.BanList(), Data: out}
}

// WhoisInfo is what whois tells about someone (and `whois --json` prints).
type WhoisInfo struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	Short       string `json:"fingerprint_short"`
	Key         string `json:"key_name,omitempty"`
	Admin       bool   `json:"admin"`
	Bot         bool   `json:"bot"`
	Away        string `json:"away,omitempty"`
	Online      bool   `json:"online"`
	Sessions    int    `json:"sessions"`
	// IdleSeconds is how long since they last did something; only while
	// online.
	IdleSeconds int64 `json:"idle_seconds,omitempty"`
	// Rooms are the rooms they are in now that the caller may see.
	Rooms []string `json:"rooms"`
}

// Whois tells a about the person who names: a private room a may not
// see is never named. An admin may ask about any key (connected, known
// or listed); anyone else only about someone connected now, and is told
// nothing of a key that is not (so that authorized_keys cannot be read
// name by name).
func (s *Service) Whois(a command.Actor, who string) (WhoisInfo, error) {
	var t Target
	var err error
	if a.Admin {
		t, err = s.resolve(who)
	} else {
		online := func(t Target) bool { _, ok := s.hub.Member(t.ID); return ok }
		t, err = s.Find(who, false, online, room.Errorf("nobody called %s is connected", safetext.Line(who, 48)), nil)
	}
	if err != nil {
		return WhoisInfo{}, err
	}
	w := WhoisInfo{Name: t.Label(), Fingerprint: t.ID, Short: ShortFP(t.ID), Key: t.Key, Admin: s.keys.Admin(t.ID), Rooms: []string{}}
	if m, ok := s.hub.Member(t.ID); ok {
		w.Name, w.Admin, w.Bot, w.Away, w.Online, w.Sessions = m.Name, m.Admin, m.Bot, m.Away, true, m.Sessions
		w.IdleSeconds = int64(s.now().Sub(m.LastActive).Seconds())
		w.Rooms = append(w.Rooms, s.hub.RoomsSeenBy(t.ID, a.ID, a.Admin)...)
	}
	return w, nil
}

// String describes w for people, on a few lines.
func (w WhoisInfo) String() string {
	var b strings.Builder
	name := w.Name
	if name == "" {
		name = "(no name known)"
	}
	b.WriteString(name)
	if w.Admin {
		b.WriteString(" (admin)")
	}
	if w.Bot {
		b.WriteString(" (bot)")
	}
	fmt.Fprintf(&b, "\n  fingerprint %s (%s)", w.Short, w.Fingerprint)
	if w.Key != "" {
		fmt.Fprintf(&b, "\n  key %s", w.Key)
	}
	if !w.Online {
		b.WriteString("\n  not connected")
		return b.String()
	}
	fmt.Fprintf(&b, "\n  online: %s, idle %s", Plural(w.Sessions, "session"), room.Idle(time.Duration(w.IdleSeconds)*time.Second))
	if w.Away != "" {
		fmt.Fprintf(&b, "\n  away: %s", safetext.Line(w.Away, 80))
	}
	if len(w.Rooms) > 0 {
		fmt.Fprintf(&b, "\n  in #%s", strings.Join(w.Rooms, ", #"))
	}
	return b.String()
}
