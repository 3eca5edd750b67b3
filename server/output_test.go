package server

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// recordWriter records the size of each write and fails after failAfter
// bytes when failAfter > 0.
type recordWriter struct {
	bytes.Buffer
	sizes     []int
	failAfter int
}

func (r *recordWriter) Write(p []byte) (int, error) {
	if r.failAfter > 0 && r.Len()+len(p) > r.failAfter {
		k := r.failAfter - r.Len()
		r.Buffer.Write(p[:k])
		r.sizes = append(r.sizes, k)
		return k, errors.New("closed")
	}
	r.sizes = append(r.sizes, len(p))
	return r.Buffer.Write(p)
}

func TestChunkedWriterCutsLargeWrites(t *testing.T) {
	for _, size := range []int{0, 1, 1023, 1024, 1025, 5000} {
		rec := &recordWriter{}
		data := strings.Repeat("x", size)
		n, err := chunkedWriter{w: rec, max: 1024}.Write([]byte(data))
		if err != nil || n != size || rec.String() != data {
			t.Fatalf("size %d: n=%d err=%v, wrote %d bytes", size, n, err, rec.Len())
		}
		for _, s := range rec.sizes {
			if s > 1024 || s == 0 {
				t.Fatalf("size %d: a write of %d bytes (writes %v)", size, s, rec.sizes)
			}
		}
		if want := (size + 1023) / 1024; len(rec.sizes) != want {
			t.Fatalf("size %d: %d writes, want %d", size, len(rec.sizes), want)
		}
	}
}

func TestChunkedWriterStopsAtAnError(t *testing.T) {
	rec := &recordWriter{failAfter: 1500}
	n, err := chunkedWriter{w: rec, max: 1024}.Write([]byte(strings.Repeat("y", 4000)))
	if err == nil || n != 1500 {
		t.Fatalf("n=%d err=%v, want 1500 and the error", n, err)
	}
	if len(rec.sizes) != 2 {
		t.Fatalf("kept writing after the error: writes %v", rec.sizes)
	}
}
