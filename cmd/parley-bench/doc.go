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
//	parley-bench -inprocess [-cpuprofile F] [-memprofile F] [load flags]
//	    start the real server (app.New, as the parley binary does) inside this process
//	    on 127.0.0.1:0 with a temporary data dir and load it: for CI smoke
//	    runs and for profiling. RSS and CPU are then the whole process,
//	    load generator included.
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
