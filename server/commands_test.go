package server

import (
	"testing"
)

// TestCommandsAreDeclaredOnce: a command the chat line and `ssh host
// COMMAND` both have comes from one declaration (the same command.Spec on
// both surfaces), and no exec command is declared
// twice. The only names on both surfaces that are different commands are
// listed here, each with why.
func TestCommandsAreDeclaredOnce(t *testing.T) {
	ts := startTestServer(t, "")
	homonyms := map[string]string{
		"help":   "each surface lists its own commands",
		"join":   "/join #ROOM enters a room; ssh host join CODE redeems an invite",
		"invite": "/invite NAME lets someone into a private room; ssh host invite makes a code for a new key",
	}
	seen := map[string]bool{}
	both := 0
	for _, x := range ts.srv.execs {
		if seen[x.Name] {
			t.Errorf("exec command %s is declared twice", x.Name)
		}
		seen[x.Name] = true
		c, ok := ts.hub().Commands().Lookup(x.Name)
		if !ok {
			continue
		}
		if _, ok := homonyms[x.Name]; ok {
			continue
		}
		both++
		if c.Spec != x.Spec {
			t.Errorf("%s is declared twice: in the chat %+v, over exec %+v", x.Name, c.Spec, x.Spec)
		}
	}
	for _, name := range []string{"who", "rooms", "whois", "kick", "ban", "unban", "bans", "mute", "unmute"} {
		_, chat := ts.hub().Commands().Lookup(name)
		if !chat || !seen[name] {
			t.Errorf("%s: in the chat %v, over exec %v; want both", name, chat, seen[name])
		}
	}
	if both < 9 {
		t.Errorf("%d commands are shared by the chat and exec, want at least 9", both)
	}
}
