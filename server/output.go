package server

import "io"

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
