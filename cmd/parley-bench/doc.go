// Command parley-bench is parley's load generator, the way redis-benchmark
// ships with Redis. It opens many real SSH sessions with a pseudo-terminal,
// has some of them type unique tokens at a steady rate, feeds every
// session's output through its own terminal emulator and measures when
// each token is on each receiver's screen.
//
// The emulator is, by default, the bench's own text grid (term.go): a rune
// per cell, escape sequences decoded by x/ansi's parser, checked against
// x/vt on recorded output of parley and ssh-chat. -emulator xvt uses
// charmbracelet/x/vt itself, whose styled cells cost about three times the
// CPU: with a thousand receivers that cost, not the server's, set the
// measured latency.
//
// -margins decline makes the grid and x/vt say they have no left/right
// margins (DECLRMM, mode 69), as tmux, xterm.js and VTE do, and
// -emulator vt10x uses hinshun/vt10x, which has none; the report says for
// how many receivers the server turned margins on, and the bytes sent per
// delivered message. issue16.sh runs parley and ssh-chat back to back on
// every such path (BENCHMARKS.md).
//
// Four modes:
//
//	parley-bench -keys N [-seed S] [-out FILE|DIR]
//	    print (or write) the authorized_keys lines of N bench identities,
//	    name="bench0001" ... Their private keys are never stored: key i is
//	    ed25519.NewKeyFromSeed(sha256(seed || uint32be(i))), so the run
//	    modes derive the same keys from the same -seed.
//
//	parley-bench -addr HOST:PORT [-pid PID] [load flags]
//	    load an external server whose authorized_keys holds those lines;
//	    -pid adds the server's RSS and CPU (from /proc) to the report.
//
//	parley-bench -breakdown FILE [-size COLSxROWS] [-split N]
//	    where the bytes of a -trace go, per frame that carries a token:
//	    the new row, the scroll, the member column (from cell N on), the
//	    header, the cursor; SGR, resets and padding across them.
//
//	parley-bench -inprocess [-nodes N] [-cpuprofile F] [-memprofile F] [load flags]
//	    start the real server (app.New, as the parley binary does) inside this process
//	    on 127.0.0.1:0 with a temporary data dir, and its web page wired as
//	    the binary wires it, and load it: for CI smoke runs and for
//	    profiling. RSS and CPU are then the whole process, load generator
//	    included. -nodes 2 starts two such nodes sharing rooms through an
//	    embedded NATS JetStream server, as parley --nats nodes do.
//
// Browser-protocol clients (issue 17): -web-sessions N adds N clients in
// the same room, on the identities after the SSH ones (web.go). Each signs
// in as the page does: `ssh host web` for a one-time link, GET /signin,
// POST /api/signin with the link's token and the page's Origin (the
// session cookie), GET /api/me (the CSRF token), then a WebSocket on
// /ws?csrf=... with the cookie and the Origin; -web URL is the page of an
// external server. -senders are SSH senders, -web-senders web ones; a web
// client's delivery is a "message" frame carrying a token. Deliveries,
// latency and bytes per delivery (the payload, and what came off the
// wire) are reported for each kind, and each kind must reach
// -min-delivered. Sign-ins are limited per address by the server (a burst
// of 5): web clients come from 127.2.x.y, -web-per-source each.
//
// Several nodes (issue 15): -addrs a,b (with -web and -pid lists in the
// same order) spreads the sessions of both kinds over external nodes
// round robin; the report gives each node's receivers, deliveries and
// latency, and its process's CPU. -nats URL (or the embedded server of
// -nodes 2) adds the messages JetStream acknowledged in the room's stream
// per second while sending. issue15-17.sh runs the full rows: one
// standalone server, one node on NATS, two nodes, with and without web
// clients (BENCHMARKS.md).
//
// A run connects the -idle sessions (if any), then the -sessions, at most
// -concurrency handshakes at a time; waits until the screens are quiet;
// then the first -senders sessions type tokens at -rate each for
// -duration, paced by a ticker; then it waits up to -drain for the last
// deliveries, reports, and closes every session. The whole run is bounded
// by -timeout. It exits 1 when the delivered fraction is below
// -min-delivered (or a session failed to connect, or the run timed out)
// and 2 on a usage error.
//
// What the tool does not know: it has no access to the server's internals
// (it only sees screens), so it cannot tell a message the server dropped
// from one that scrolled off a screen between two frames; it reports the
// latter as a gap (a later token of the same sender was seen).
package main
