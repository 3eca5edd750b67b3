package server

import (
	"bytes"
	"io"
)

// maxWrite is the most one write to a session's channel carries. The SSH
// library keeps, per channel, a packet buffer and a cipher buffer as large
// as the largest write it was given; a first screen is several KiB, a new
// message ~200 bytes. Cutting writes keeps both small for every idle
// session, at the cost of a few more packets for a full redraw.
const maxWrite = 1 << 10

// chunkedWriter writes to w in pieces of at most max bytes. It is used by
// one goroutine (the session's screen).
type chunkedWriter struct {
	w   io.Writer
	max int
}

// Write writes p to w in order, max bytes at a time.
func (c chunkedWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k, err := c.w.Write(p[:min(len(p), c.max)])
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// frameWriter writes a session's frames straight to its SSH channel. The
// session's own Write (charm.land/ssh, emulating a pty) looks the
// emulation up in the connection's context and copies every write twice
// to turn "\n" into "\r\n": with thousands of screens receiving each
// message that was 5-7% of the server's CPU, for frames that never hold a
// newline (rows are placed with cursor moves). A write that does hold one
// goes through the pty, so the terminal is sent the same bytes as before.
// It is used by one goroutine (the session's screen).
type frameWriter struct {
	raw io.Writer // the session's channel
	pty io.Writer // the session: "\n" becomes "\r\n"
}

// Write writes p to the channel, or through the pty when p holds a
// newline; in order either way (both end in the same channel).
func (f frameWriter) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, '\n') >= 0 {
		return f.pty.Write(p)
	}
	return f.raw.Write(p)
}
