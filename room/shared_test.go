package room

import (
	"errors"
	"strings"
	"testing"

	"parley/command"
)

// TestSharedCommandInTheChat: a command declared once for every surface
// runs in the chat line through the one adapter: /help lists it from its
// Spec, the word counts and ErrUsage give the usage line, an admin command
// asks allow first, and the reply is a notice.
func TestSharedCommandInTheChat(t *testing.T) {
	h := newHub(t, Config{})
	var got []*command.Call
	echo := command.Command{Spec: command.Spec{Name: "echo", Args: "WORD [WORD]", Help: "say words back", Min: 1, Max: 2, On: command.Chat | command.Exec},
		Run: func(c *command.Call) (command.Reply, error) {
			got = append(got, c)
			if c.Words[0] == "bad" {
				return command.Reply{}, command.ErrUsage
			}
			return command.Reply{Text: "echo: " + c.Rest(0)}, nil
		}}
	boss := command.Command{Spec: command.Spec{Name: "boss", Help: "admins only", Admin: true, On: command.Chat},
		Run: func(c *command.Call) (command.Reply, error) { return command.Reply{Text: "yes, boss"}, nil }}
	execOnly := command.Command{Spec: command.Spec{Name: "pipe", On: command.Exec},
		Run: func(c *command.Call) (command.Reply, error) { return command.Reply{}, errors.New("not here") }}
	refused := errors.New("no longer")
	if err := h.Commands().RegisterShared([]command.Command{echo, boss, execOnly}, func(a command.Actor) error {
		if a.ID == "id-demoted" {
			return Errorf("%v", refused)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Commands().Lookup("pipe"); ok {
		t.Error("an exec-only command was registered in the chat")
	}

	alice := connectAs(t, h, Identity{ID: "id-alice", Name: "alice"})
	expect(t, alice, KindJoin)
	send(t, alice, "/help")
	if help := expect(t, alice, KindNotice).Text; !strings.Contains(help, "/echo WORD [WORD]  say words back") || strings.Contains(help, "/boss") {
		t.Errorf("/help:\n%s", help)
	}
	send(t, alice, "/echo  hello   there ")
	if n := expect(t, alice, KindNotice).Text; n != "echo: hello there" {
		t.Errorf("/echo = %q", n)
	}
	if c := got[len(got)-1]; c.By.ID != "id-alice" || c.By.Name != "alice" || c.Room != h.DefaultRoom() || c.On != command.Chat {
		t.Errorf("the call: %+v", c)
	}
	for _, line := range []string{"/echo", "/echo a b c", "/echo bad"} {
		if e := sendErr(t, alice, line); !strings.Contains(e.Error(), "usage: /echo WORD [WORD] (say words back)") {
			t.Errorf("%s: %v", line, e)
		}
	}
	if e := sendErr(t, alice, "/boss"); !strings.Contains(e.Error(), "unknown command /boss") {
		t.Errorf("a non-admin's /boss: %v", e)
	}

	admin := connectAs(t, h, Identity{ID: "id-admin", Name: "root", Admin: true})
	expect(t, admin, KindJoin)
	send(t, admin, "/boss")
	if n := expect(t, admin, KindNotice).Text; n != "yes, boss" {
		t.Errorf("/boss = %q", n)
	}
	demoted := connectAs(t, h, Identity{ID: "id-demoted", Name: "ex", Admin: true})
	expect(t, demoted, KindJoin)
	if e := sendErr(t, demoted, "/boss"); e.Error() != refused.Error() {
		t.Errorf("/boss when allow refuses: %v", e)
	}
}
