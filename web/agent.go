package web

import (
	"strings"
)

// agentSummary names the browser and system of a User-Agent header in a
// few words ("Firefox on Linux"), for a person's list of their sessions.
// The header is the client's to write: the result is at most
// maxAgentSummary bytes of printable ASCII whatever it holds.
func agentSummary(ua string) string {
	if ua == "" {
		return "unknown browser"
	}
	browser := "a browser"
	for _, b := range []struct{ token, name string }{ // most specific first
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chromium"},
		{"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"CriOS/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"CrOS", "ChromeOS"},
		{"Mac OS X", "macOS"}, {"Windows", "Windows"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// maxAgentSummary bounds agentSummary's result.
const maxAgentSummary = 40
