package room

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/command"
)

// Commands that the chat line and `ssh host COMMAND` both have are declared
// once, as a command.Spec with one handler that knows no surface (package
// command). Shared adapts such a command to the chat's Registry; the SSH
// front door adapts the same values to exec. room declares two of them
// itself (who, rooms); moderation declares the admins'.

// sharedCommand is a command room declares for both surfaces; run gets the
// hub, so that one table serves the chat (which has it in every Call) and
// Hub.SharedCommands.
type sharedCommand struct {
	command.Spec
	run func(h *Hub, c *command.Call) (command.Reply, error)
}

// shared are room's own commands for the chat line and exec.
var shared = []sharedCommand{
	{Spec: command.Spec{Name: "who", Help: "list who is in the room, with idle times (bots marked)", Room: true, JSON: true, On: command.Chat | command.Exec},
		run: whoReply},
	{Spec: command.Spec{Name: "rooms", Help: "list the rooms", JSON: true, On: command.Chat | command.Exec},
		run: roomsReply},
}

// SharedCommands returns room's commands for surfaces other than the chat
// line (which has them already): who and rooms.
func (h *Hub) SharedCommands() []command.Command {
	out := make([]command.Command, len(shared))
	for i, c := range shared {
		out[i] = command.Command{Spec: c.Spec, Run: func(cc *command.Call) (command.Reply, error) { return c.run(h, cc) }}
	}
	return out
}

// Shared adapts c to the chat: the Command /help lists and the chat line
// runs, its reply shown as a notice. allow, when not nil, is asked before
// each run of an admin command (is the key an admin key still?); an error it
// returns is shown instead.
func Shared(c command.Command, allow func(command.Actor) error) Command {
	return chatAdapter(c.Spec, allow, func(_ *Call, cc *command.Call) (command.Reply, error) { return c.Run(cc) })
}

// RegisterShared adds the commands of cmds that have the Chat surface.
func (r *Registry) RegisterShared(cmds []command.Command, allow func(command.Actor) error) error {
	for _, c := range cmds {
		if c.On&command.Chat == 0 {
			continue
		}
		if err := r.Register(Shared(c, allow)); err != nil {
			return err
		}
	}
	return nil
}

// chatAdapter is the one adapter of a shared command to the chat line.
func chatAdapter(spec command.Spec, allow func(command.Actor) error, run func(*Call, *command.Call) (command.Reply, error)) Command {
	return Command{Spec: spec, Run: func(c *Call) error {
		a := command.Actor{ID: c.Session.ID(), Name: c.Session.Name(), Admin: c.Session.Admin()}
		if spec.Admin && allow != nil {
			if err := allow(a); err != nil {
				return err
			}
		}
		words := strings.Fields(c.Args)
		if !spec.Words(len(words)) {
			return c.UsageError()
		}
		r, err := run(c, &command.Call{Ctx: c.Ctx, By: a, Words: words, Room: c.Session.Room(), On: command.Chat})
		if errors.Is(err, command.ErrUsage) {
			return c.UsageError()
		}
		if err != nil {
			return err
		}
		c.Session.Notice(r.Text)
		return nil
	}}
}

// MemberJSON is one person in `who --json`.
type MemberJSON struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	Admin       bool   `json:"admin"`
	Bot         bool   `json:"bot"`
	Away        string `json:"away,omitempty"`
	Sessions    int    `json:"sessions"`
	Since       string `json:"since"`
	IdleSeconds int64  `json:"idle_seconds"`
}

func whoReply(h *Hub, c *command.Call) (command.Reply, error) {
	people, err := h.MembersFor(c.Room, c.By.ID, c.By.Admin)
	if err != nil {
		return command.Reply{}, err
	}
	now := h.cfg.Now()
	data := make([]MemberJSON, 0, len(people))
	var b strings.Builder
	fmt.Fprintf(&b, "%d in #%s:", len(people), RoomKey(c.Room))
	for _, p := range people {
		data = append(data, MemberJSON{Name: p.Name, Fingerprint: p.ID, Admin: p.Admin, Bot: p.Bot, Away: p.Away,
			Sessions: p.Sessions, Since: p.Since.UTC().Format(time.RFC3339), IdleSeconds: int64(now.Sub(p.LastActive).Seconds())})
		fmt.Fprintf(&b, "\n  %s", p.Name)
		if p.Admin {
			b.WriteString(" (admin)")
		}
		if p.Bot {
			b.WriteString(" (bot)")
		}
		if p.Away != "" {
			fmt.Fprintf(&b, " away: %s", p.Away)
		}
		fmt.Fprintf(&b, " · idle %s", Idle(now.Sub(p.LastActive)))
	}
	return command.Reply{Text: b.String(), Data: data}, nil
}

// RoomJSON is one room in `rooms --json`.
type RoomJSON struct {
	Name    string `json:"name"`
	Topic   string `json:"topic"`
	Private bool   `json:"private"`
	People  int    `json:"people"`
}

// roomsReply lists the rooms the caller may see. In the chat it says
// which ones they are in and how to join one; over exec it prints one
// line a room.
func roomsReply(h *Hub, c *command.Call) (command.Reply, error) {
	list := h.RoomsFor(c.By.ID, c.By.Admin)
	mine := map[string]bool{}
	for _, r := range h.RoomsSeenBy(c.By.ID, c.By.ID, c.By.Admin) {
		mine[r] = true
	}
	chat := c.On == command.Chat
	data := make([]RoomJSON, 0, len(list))
	var lines []string
	if chat {
		lines = append(lines, "Rooms:")
	}
	for _, r := range list {
		data = append(data, RoomJSON(r)) // the same fields, with JSON names
		line := fmt.Sprintf("#%s · %d", r.Name, r.People)
		if chat {
			line = "  " + line
		}
		if r.Private {
			line += " · private"
		}
		if chat && mine[r.Name] {
			line += " · joined"
		}
		if r.Topic != "" {
			line += " · " + r.Topic
		}
		lines = append(lines, line)
	}
	if chat {
		lines = append(lines, "/join #name enters a room or creates it.")
	}
	return command.Reply{Text: strings.Join(lines, "\n"), Data: data}, nil
}
