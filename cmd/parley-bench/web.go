package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"
)

// The WebSocket mode (issue 17): browser-protocol clients in the same room
// as the SSH sessions. Each signs in the way the page does
// (docs/web-protocol.md): `ssh host web` for a one-time link, GET /signin
// (the page), POST /api/signin with the link's token and the page's
// Origin (which sets the session cookie), GET /api/me for the CSRF token,
// then GET /ws?csrf=... upgraded to a WebSocket, with the cookie and the
// Origin. A delivery is a "message" frame whose text is one of the run's
// tokens; its latency is from the token's sending, as on the screens.

// Bounds of the web clients.
const (
	webReadLimit   = 64 << 20 // a members frame of thousands of people is big
	webCloseWait   = 5 * time.Second
	maxSignInWaits = 20 // 429 answers honoured before giving up
	maxRetryAfter  = 30 * time.Second
	cookieName     = "parley_session"
)

// webSession is one browser-protocol client: its identity, its own HTTP
// client (its source address, its byte count) and its WebSocket.
type webSession struct {
	id       identity
	node     int
	receiver bool // set (for ready sessions) before the measuring phase starts

	hc      *http.Client
	conn    *websocket.Conn
	writeMu sync.Mutex // one sender's frames in order (the conn allows concurrent writers)
	wire    atomic.Int64
	err     error // why it did not connect

	// Since the run's epoch; zero means it did not happen.
	startAt, shellAt, readyAt time.Duration
	ready                     chan struct{} // closed at the first backlog frame or when the socket ended first
	done                      chan struct{} // closed when the reader has returned
	endText                   string        // the end frame's reason or the close error; set before done

	gotReady bool // owned by the reader

	mu           sync.Mutex // guards what the report reads while the reader runs
	seen         bitset
	lat          []time.Duration
	lastSeen     time.Duration
	bytes        int64 // payload while measuring
	frames       int64
	errFrames    int64  // "error" frames while measuring: something sent was refused
	firstErr     string // the first one's text
	wire0, wire1 int64  // wire at the start and the end of measuring
}

func newWebSession(id identity, node int) *webSession {
	return &webSession{id: id, node: node, ready: make(chan struct{}), done: make(chan struct{})}
}

// webSourceAddr is web session k's local address when the load is
// spread: web-per-source sessions a source, from 127.2.0.1 on, apart from
// the SSH sessions' 127.1.x.y. The server limits sign-ins per address.
func (b *bench) webSourceAddr(k int) *net.TCPAddr {
	if !b.webSpread {
		return nil
	}
	ip := uint32(127)<<24 | uint32(2)<<16 + 1 + uint32(k/b.cfg.webPerSource)
	return &net.TCPAddr{IP: net.IPv4(byte(ip>>24), byte(ip>>16), byte(ip>>8), byte(ip))}
}

// webSources is how many source addresses the web sessions use.
func (b *bench) webSources() int {
	if !b.webSpread || b.cfg.webSessions == 0 {
		return min(1, b.cfg.webSessions)
	}
	return (b.cfg.webSessions + b.cfg.webPerSource - 1) / b.cfg.webPerSource
}

// countingConn counts the bytes read from a connection: what the server
// sent, as it crossed the wire (TLS, SSH or WebSocket framing included).
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// connectWeb signs w in as the page does and opens its WebSocket; its
// reader then runs until the socket closes. Once connected, the socket is
// closed at b.hard's end whatever happens.
func (b *bench) connectWeb(ctx context.Context, k int, w *webSession) error {
	w.startAt = b.since()
	n := b.nodes[w.node]
	src := b.webSourceAddr(k)
	token, err := b.signInLink(ctx, n.addr, src, w.id)
	if err != nil {
		return fmt.Errorf("ssh web: %w", err)
	}
	dialer := &net.Dialer{Timeout: handshakeTimeout}
	if src != nil {
		dialer.LocalAddr = src
	}
	w.hc = &http.Client{
		Timeout: handshakeTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{Conn: c, n: &w.wire}, nil
			},
			MaxIdleConnsPerHost: 1,
		},
		// A browser follows redirects; the API never answers with one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := n.web.String()
	origin := n.web.Scheme + "://" + n.web.Host
	// The page the link opens; its script posts the token.
	if _, err := b.webDo(ctx, w, http.MethodGet, base+"/signin", origin, "", nil); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"token": token})
	var cookie string
	for tries := 0; ; tries++ {
		resp, err := b.webRequest(ctx, w, http.MethodPost, base+"/api/signin", origin, "", body)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusTooManyRequests && tries < maxSignInWaits {
			// Rate limited per address: the link is not used yet.
			if err := waitRetryAfter(ctx, resp.Header.Get("Retry-After")); err != nil {
				return err
			}
			continue
		}
		if err := httpStatus(resp, "POST /api/signin"); err != nil {
			return err
		}
		for _, c := range resp.Cookies() {
			if c.Name == cookieName {
				cookie = c.Value
			}
		}
		break
	}
	if cookie == "" {
		return errors.New("POST /api/signin set no " + cookieName + " cookie")
	}
	me, err := b.webDo(ctx, w, http.MethodGet, base+"/api/me", origin, cookie, nil)
	if err != nil {
		return err
	}
	var who struct{ CSRF string }
	if err := json.Unmarshal(me, &who); err != nil || who.CSRF == "" {
		return fmt.Errorf("GET /api/me: no CSRF token in %.100q", me)
	}
	ws := *n.web
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[n.web.Scheme]
	ws.Path, ws.RawQuery = "/ws", url.Values{"csrf": {who.CSRF}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	c, _, err := websocket.Dial(dctx, ws.String(), &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: w.hc.Transport}, // no timeout: it would end the socket
		HTTPHeader: http.Header{"Origin": {origin}, "Cookie": {cookieName + "=" + cookie}},
	})
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	c.SetReadLimit(webReadLimit)
	w.conn = c
	w.shellAt = b.since()
	go w.read(b)
	return nil
}

// signInLink runs `ssh host web` as id and returns the link's token.
func (b *bench) signInLink(ctx context.Context, addr string, src *net.TCPAddr, id identity) (string, error) {
	d := net.Dialer{}
	if src != nil {
		d.LocalAddr = src
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	_ = nc.SetDeadline(time.Now().Add(handshakeTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, &ssh.ClientConfig{
		User: id.name, Auth: []ssh.AuthMethod{ssh.PublicKeys(id.signer)}, HostKeyCallback: b.hostKey,
	})
	if err != nil {
		return "", err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	if err := sess.Run("web"); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
	}
	return linkToken(out.String())
}

// linkToken finds the sign-in link in what `ssh host web` printed and
// returns its token (the fragment: a browser never sends it in a request).
func linkToken(out string) (string, error) {
	for f := range strings.FieldsSeq(out) {
		if _, token, ok := strings.Cut(f, "/signin#"); ok && token != "" &&
			(strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://")) {
			return token, nil
		}
	}
	return "", fmt.Errorf("no sign-in link in %.200q", out)
}

// webRequest makes one request as the page does: its Origin, its cookie.
func (b *bench) webRequest(ctx context.Context, w *webSession, method, u, origin, cookie string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+cookie)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	return resp, nil
}

// webDo is webRequest that wants a 200 and returns the body.
func (b *bench) webDo(ctx context.Context, w *webSession, method, u, origin, cookie string, body []byte) ([]byte, error) {
	resp, err := b.webRequest(ctx, w, method, u, origin, cookie, body)
	if err != nil {
		return nil, err
	}
	if err := httpStatus(resp, method+" "+resp.Request.URL.Path); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// httpStatus reads and closes resp's body unless the status is 200, and
// returns the answer as an error then.
func httpStatus(resp *http.Response, what string) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("%s: %s: %s", what, resp.Status, strings.TrimSpace(string(msg)))
}

// waitRetryAfter waits as long as a Retry-After header says (bounded).
func waitRetryAfter(ctx context.Context, h string) error {
	secs, err := strconv.Atoi(h)
	if err != nil || secs < 1 {
		secs = 1
	}
	t := time.NewTimer(min(time.Duration(secs)*time.Second, maxRetryAfter))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Frame prefixes: the server marshals "type" first, so most frames need
// no decoding at all.
var (
	messagePrefix = []byte(`{"type":"message"`)
	backlogPrefix = []byte(`{"type":"backlog"`)
	endPrefix     = []byte(`{"type":"end"`)
	errorPrefix   = []byte(`{"type":"error"`)
)

// read takes the socket's frames until it closes.
func (w *webSession) read(b *bench) {
	defer close(w.done)
	for {
		_, data, err := w.conn.Read(b.hard)
		if err != nil {
			if w.endText == "" {
				w.endText = err.Error()
			}
			if !w.gotReady {
				close(w.ready)
			}
			return
		}
		now := b.since()
		b.lastOutput.Store(int64(now))
		w.frame(b, data, now)
	}
}

func (w *webSession) frame(b *bench, data []byte, now time.Duration) {
	if bytes.HasPrefix(data, endPrefix) {
		var f struct{ Reason string }
		_ = json.Unmarshal(data, &f)
		w.endText = "ended: " + f.Reason
		return
	}
	if !w.gotReady {
		if bytes.HasPrefix(data, backlogPrefix) {
			w.gotReady = true
			w.readyAt = now
			close(w.ready)
		}
		return
	}
	ph := b.phase.Load()
	if ph != phaseMeasure || !w.receiver {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bytes += int64(len(data))
	w.frames++
	if bytes.HasPrefix(data, errorPrefix) {
		var f struct{ Text string }
		_ = json.Unmarshal(data, &f)
		w.errFrames++
		if w.firstErr == "" {
			w.firstErr = f.Text
		}
		return
	}
	if !bytes.HasPrefix(data, messagePrefix) {
		return
	}
	var f struct {
		Message struct {
			Kind string
			Text string
		}
	}
	if err := json.Unmarshal(data, &f); err != nil || f.Message.Kind != "chat" {
		return
	}
	if s, n, ok := b.tok.parse(f.Message.Text); ok {
		i := b.tok.index(s, n)
		if !w.seen.add(i) {
			return
		}
		sent := time.Duration(b.tok.sentAt[i].Load())
		if sent == 0 {
			b.phantom.Add(1)
			return
		}
		w.lat = append(w.lat, now-sent)
		w.lastSeen = now
		b.delivered()
	}
}

// send writes one line typed in the composer.
func (w *webSession) send(ctx context.Context, text string) error {
	data, err := json.Marshal(map[string]string{"type": "send", "text": text})
	if err != nil {
		return err
	}
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	return w.conn.Write(ctx, websocket.MessageText, data)
}

// close ends the socket as a closed tab does, and waits for the reader.
func (w *webSession) close() {
	if w.hc != nil {
		defer w.hc.CloseIdleConnections()
	}
	if w.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), webCloseWait)
	defer cancel()
	go func() {
		<-ctx.Done()
		w.conn.CloseNow()
	}()
	_ = w.conn.Close(websocket.StatusGoingAway, "parley-bench is done")
	<-w.done
}

// parse reads text (a message's whole text) as one of this run's tokens.
func (t *tokenSet) parse(text string) (s, n int, ok bool) {
	ch := func(x int) rune {
		if x < len(text) {
			return rune(text[x])
		}
		return ' '
	}
	return t.tokenFrom(ch, 0)
}

// connectWebGroup signs in and connects every web session, at most
// concurrency at a time, and waits for each one's first backlog frame.
func (b *bench) connectWebGroup(ctx context.Context, group []*webSession) connectStats {
	start := b.since()
	inParallel(ctx, len(group), b.cfg.concurrency, func(k int) { group[k].err = b.connectWeb(ctx, k, group[k]) })

	st := connectStats{Attempted: len(group)}
	errs := map[string]int{}
	var open, first []time.Duration
	end := start
	for _, w := range group {
		if w.conn == nil {
			st.Failed++
			msg := "not attempted (the run was cut short)"
			if w.err != nil {
				msg = w.err.Error()
			}
			errs[msg]++
			continue
		}
		select {
		case <-w.ready:
		case <-ctx.Done():
		}
		if w.readyAt == 0 {
			st.Failed++
			errs["signed in, but no backlog frame came"]++
			continue
		}
		st.Connected++
		open = append(open, w.shellAt-w.startAt)
		first = append(first, w.readyAt-w.startAt)
		end = max(end, w.readyAt)
	}
	st.Errors = countedErrors(errs)
	if st.Failed > 0 {
		b.problem("%d of %d web sessions did not connect: %v", st.Failed, len(group), st.Errors)
	}
	st.WallS = round3((end - start).Seconds())
	if end > start {
		st.RatePerS = round1(float64(st.Connected) / (end - start).Seconds())
	}
	st.Handshake = summarize(open)
	st.FirstScreen = summarize(first)
	return st
}

// shutdownWeb closes every web session's socket, all at once.
func (b *bench) shutdownWeb(all []*webSession) {
	var wg sync.WaitGroup
	for _, w := range all {
		wg.Go(w.close)
	}
	wg.Wait()
}
