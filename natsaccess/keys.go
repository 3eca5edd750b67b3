package natsaccess

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"parley/keys"
)

// The shared key set: the PARLEY_KEYS bucket holds one authorized_keys
// line per key (key: keyOf(fingerprint)), and every node mirrors it into
// its own authorized_keys file, under keys.Lock, then reloads it, so that
// the enforcement a node already has (login, removal ending sessions,
// expiry, admin rights) runs on it unchanged. See doc.go for how local
// edits and the file relate to it.

// baseSuffix names the file, next to authorized_keys, that holds the key
// lines this node and the bucket last agreed on: what tells a change made
// here (published) from a change made elsewhere (mirrored), at start as
// while running.
const baseSuffix = ".shared"

// keySync mirrors the shared key set into one node's authorized_keys and
// publishes that file's changes. mu serialises its two directions (the
// poll goroutine and the keys bucket's watcher) and guards base and last.
type keySync struct {
	s    *Shared
	n    Node
	path string

	mu   sync.Mutex
	base map[string]string // fingerprint -> line, as last agreed with the bucket
	last *keys.Snapshot    // the snapshot the last successful publish looked at
	// seen is the newest revision of each bucket key this node has read.
	// A watcher made again after a reconnection delivers every current
	// value again, possibly a value older than a removal this node has
	// just published (its snapshot was taken before the removal landed):
	// applying it would put the removed key back, however briefly.
	seen map[string]uint64
}

// start merges the file and the bucket (doc.go, "At start"), then starts
// the bucket's watcher.
func (k *keySync) start(ctx context.Context) error {
	w, err := k.s.keys.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("natsaccess: watch %s: %w", KeysBucket, err)
	}
	shared := map[string]string{} // the bucket's lines now
	deadline := time.After(k.s.opts.Timeout)
initial:
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("natsaccess: watch %s: closed", KeysBucket)
			}
			if e == nil {
				break initial
			}
			k.saw(e)
			if e.Operation() != jetstream.KeyValuePut {
				continue
			}
			if fp, line, err := decodeKeyLine(e.Key(), e.Value()); err == nil {
				shared[fp] = line
			} else {
				k.s.log.Warn("a shared key cannot be read: skipped", "key", e.Key(), "err", err)
			}
		case <-deadline:
			_ = w.Stop()
			return fmt.Errorf("natsaccess: reading %s: timed out", KeysBucket)
		}
	}
	if err := k.merge(ctx, shared); err != nil {
		_ = w.Stop()
		return err
	}
	k.s.follow(ctx, k.s.keys, w, k.apply)
	return nil
}

// merge makes the file and the bucket agree at start: every key whose line
// in the file differs from the last agreed one (base) was changed here
// while the node was not running (or before it first joined) and is
// published; every other key takes the bucket's line, or goes when the
// bucket no longer has it.
func (k *keySync) merge(ctx context.Context, shared map[string]string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	base, err := readBase(k.path + baseSuffix)
	if err != nil {
		return err
	}
	k.base = base
	snap := k.n.Keys.Current()
	l, err := keys.Lock(k.path, nil)
	if err != nil {
		return fmt.Errorf("natsaccess: %w", err)
	}
	defer l.Unlock()
	data, err := l.Read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("natsaccess: %w", err)
	}
	local := fileLines(data)
	want := map[string]string{} // fingerprint -> the line the file must have
	for fp, line := range shared {
		want[fp] = line
	}
	pctx, cancel := k.s.ctx(ctx)
	defer cancel()
	for fp := range union(local, base) {
		line, here := local[fp]
		if line == base[fp] && here == (base[fp] != "") {
			continue // unchanged here: the bucket's line (or none) stands
		}
		if err := k.publish(pctx, fp, line, here); err != nil {
			return err
		}
		if here {
			want[fp] = line
		} else {
			delete(want, fp)
		}
	}
	out, changed := rewrite(data, local, want)
	if changed {
		if err := l.Write(out); err != nil {
			return fmt.Errorf("natsaccess: %w", err)
		}
	}
	k.base = want
	if err := writeBase(k.path+baseSuffix, want); err != nil {
		return err
	}
	l.Unlock()
	if changed {
		if err := k.n.ReloadKeys(); err != nil {
			return fmt.Errorf("natsaccess: %w", err)
		}
		snap = k.n.Keys.Current()
	}
	k.last = snap
	k.s.log.Info("authorized keys merged with the cluster's", "keys", len(want), "file_changed", changed)
	return nil
}

// poll publishes the changes of the file made on this node (keys add and
// join over SSH, parley keys, a hand edit, PARLEY_ADMIN_KEYS): whenever
// the node loads a new snapshot of the file, what differs from the last
// agreed lines is published. A publish that fails is tried again at the
// next tick.
func (k *keySync) poll(ctx context.Context) {
	t := time.NewTicker(k.s.opts.KeysPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.publishLocal(ctx); err != nil && ctx.Err() == nil {
			k.s.log.Warn("publishing a change of authorized_keys failed; trying again", "err", err)
		}
	}
}

// publishLocal publishes what the file holds that differs from the last
// agreed lines, when the node has loaded a new snapshot since the last time.
func (k *keySync) publishLocal(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	snap := k.n.Keys.Current()
	if snap == k.last {
		return nil
	}
	l, err := keys.Lock(k.path, nil)
	if err != nil {
		return err
	}
	defer l.Unlock()
	data, err := l.Read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	local := fileLines(data)
	pctx, cancel := k.s.ctx(ctx)
	defer cancel()
	changed := false
	for fp := range union(local, k.base) {
		line, here := local[fp]
		if line == k.base[fp] && here == (k.base[fp] != "") {
			continue
		}
		if err := k.publish(pctx, fp, line, here); err != nil {
			return err
		}
		if here {
			k.base[fp] = line
		} else {
			delete(k.base, fp)
		}
		changed = true
	}
	if changed {
		if err := writeBase(k.path+baseSuffix, k.base); err != nil {
			return err
		}
	}
	k.last = snap
	return nil
}

// publish stores line as the key's (here) or deletes the key.
func (k *keySync) publish(ctx context.Context, fp, line string, here bool) error {
	if here {
		if _, err := k.s.keys.Put(ctx, keyOf(fp), []byte(line)); err != nil {
			return fmt.Errorf("natsaccess: publish key %s: %w", fp, err)
		}
		k.s.log.Info("authorized key published to the cluster", "fingerprint", fp)
		return nil
	}
	if err := k.s.keys.Delete(ctx, keyOf(fp)); err != nil {
		return fmt.Errorf("natsaccess: publish the removal of key %s: %w", fp, err)
	}
	k.s.log.Info("authorized key removal published to the cluster", "fingerprint", fp)
	return nil
}

// apply mirrors one change of the bucket into the file and reloads it
// (ending the sessions of a key removed), unless the file has it already.
func (k *keySync) apply(e jetstream.KeyValueEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.saw(e) {
		return // delivered again after a reconnection: read already
	}
	var fp, line string
	put := e.Operation() == jetstream.KeyValuePut
	if put {
		var err error
		if fp, line, err = decodeKeyLine(e.Key(), e.Value()); err != nil {
			k.s.log.Warn("a shared key cannot be read: skipped", "key", e.Key(), "err", err)
			return
		}
	} else {
		for f := range k.base {
			if keyOf(f) == e.Key() {
				fp = f
			}
		}
		if fp == "" {
			return // a key this node never had
		}
	}
	l, err := keys.Lock(k.path, nil)
	if err != nil {
		k.s.log.Error("mirroring a shared key change: authorized_keys", "err", err)
		return
	}
	defer l.Unlock()
	data, err := l.Read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		k.s.log.Error("mirroring a shared key change: authorized_keys", "err", err)
		return
	}
	local := fileLines(data)
	if local[fp] != k.base[fp] {
		// Changed here and not published yet (NATS was away): this node's
		// change is newer, and the poll publishes it; never undo it here.
		return
	}
	want := map[string]string{}
	for f, ln := range local {
		want[f] = ln
	}
	if put {
		want[fp] = line
		k.base[fp] = line
	} else {
		delete(want, fp)
		delete(k.base, fp)
	}
	out, changed := rewrite(data, local, want)
	if changed {
		if err := l.Write(out); err != nil {
			k.s.log.Error("mirroring a shared key change: authorized_keys", "err", err)
			return
		}
	}
	if err := writeBase(k.path+baseSuffix, k.base); err != nil {
		k.s.log.Error("mirroring a shared key change", "err", err)
	}
	l.Unlock()
	if !changed {
		return
	}
	k.s.log.Info("authorized key changed on another node: mirrored", "fingerprint", fp, "removed", !put)
	if err := k.n.ReloadKeys(); err != nil {
		k.s.log.Error("mirroring a shared key change: reload", "err", err)
	}
	k.last = k.n.Keys.Current() // its change is this one, agreed already
}

// saw notes e's revision and reports whether it is newer than any this
// node has read for its key. The caller holds mu, or is start before the
// watcher is followed.
func (k *keySync) saw(e jetstream.KeyValueEntry) bool {
	if k.seen == nil {
		k.seen = map[string]uint64{}
	}
	if e.Revision() <= k.seen[e.Key()] {
		return false
	}
	k.seen[e.Key()] = e.Revision()
	return true
}

// decodeKeyLine reads one shared key: a single authorized_keys line that
// parses on its own to one key, whose fingerprint its bucket key is made
// from.
func decodeKeyLine(key string, value []byte) (fp, line string, err error) {
	line = string(value)
	if strings.ContainsAny(line, "\r\n") {
		return "", "", errors.New("not a single line")
	}
	snap, _ := keys.ParseBytes(value)
	es := snap.Entries()
	if len(es) != 1 {
		return "", "", errors.New("not one authorized_keys line that parley accepts")
	}
	if keyOf(es[0].Fingerprint) != key {
		return "", "", errors.New("its key is not the one of its bucket key")
	}
	return es[0].Fingerprint, line, nil
}

// fileLines maps each key in an authorized_keys file to its line: every
// line that parses on its own to one key (so a line the whole file refuses
// for a reason of the whole, such as a name another key took, still
// counts as present). The first line of a key wins.
func fileLines(data []byte) map[string]string {
	out := map[string]string{}
	for ln := range bytes.Lines(data) {
		line := strings.TrimRight(string(ln), "\r\n")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		snap, _ := keys.ParseBytes([]byte(line))
		if es := snap.Entries(); len(es) == 1 {
			if _, dup := out[es[0].Fingerprint]; !dup {
				out[es[0].Fingerprint] = line
			}
		}
	}
	return out
}

// rewrite returns data with every key's line as want says: lines of keys
// whose line differs or that want does not hold are dropped, and the
// missing lines appended; every other line (comments, refused lines) is
// kept as it was. changed is false when nothing had to change.
func rewrite(data []byte, local, want map[string]string) (out []byte, changed bool) {
	drop := map[string]bool{}
	for fp, line := range local {
		if w, ok := want[fp]; !ok || w != line {
			drop[fp] = true
		}
	}
	for ln := range bytes.Lines(data) {
		line := strings.TrimRight(string(ln), "\r\n")
		snap, _ := keys.ParseBytes([]byte(line))
		if es := snap.Entries(); len(es) == 1 && drop[es[0].Fingerprint] {
			changed = true
			continue
		}
		out = append(out, ln...)
		if !bytes.HasSuffix(ln, []byte("\n")) {
			out = append(out, '\n')
		}
	}
	for fp, line := range want {
		if l, ok := local[fp]; ok && l == line {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
		changed = true
	}
	return out, changed
}

func union(a, b map[string]string) map[string]struct{} {
	out := make(map[string]struct{}, len(a)+len(b))
	for k := range a {
		out[k] = struct{}{}
	}
	for k := range b {
		out[k] = struct{}{}
	}
	return out
}

// readBase reads the last agreed lines; a missing file is none (a node
// that never joined a cluster).
func readBase(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("natsaccess: %w", err)
	}
	base := map[string]string{}
	if err := json.Unmarshal(data, &base); err != nil {
		return nil, fmt.Errorf("natsaccess: %s: %w (remove it to publish every key of authorized_keys again)", path, err)
	}
	return base, nil
}

// writeBase replaces the last agreed lines atomically.
func writeBase(path string, base map[string]string) error {
	data, err := json.MarshalIndent(base, "", " ")
	if err != nil {
		return fmt.Errorf("natsaccess: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("natsaccess: %w", err)
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("natsaccess: %s: %w", path, err)
	}
	return nil
}
