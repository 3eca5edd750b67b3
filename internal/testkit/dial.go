package testkit

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// ClientConfig is an ssh.ClientConfig for user with auth. When
// hostKeyFP is not empty the server's host key must have that SHA256
// fingerprint; hostKeyChecked, when not nil, is set once the check passed.
// With hostKeyFP empty any host key is accepted.
func ClientConfig(user string, auth []ssh.AuthMethod, hostKeyFP string, hostKeyChecked *atomic.Bool) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User: user,
		Auth: auth,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if hostKeyFP != "" {
				if got := ssh.FingerprintSHA256(key); got != hostKeyFP {
					return fmt.Errorf("host key %s, want %s", got, hostKeyFP)
				}
			}
			if hostKeyChecked != nil {
				hostKeyChecked.Store(true)
			}
			return nil
		},
		Timeout: WaitTimeout,
	}
}

// Dial connects to addr and authenticates, with a deadline of timeout on
// the whole handshake.
func Dial(addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return Handshake(nc, addr, cfg, timeout)
}

// DialKey is Dial as user with signer's key only, any host key accepted.
func DialKey(addr, user string, signer ssh.Signer, timeout time.Duration) (*ssh.Client, error) {
	cfg := ClientConfig(user, []ssh.AuthMethod{ssh.PublicKeys(signer)}, "", nil)
	cfg.Timeout = timeout
	return Dial(addr, cfg, timeout)
}

// Handshake authenticates on nc (connected to addr), with a deadline of
// timeout on the whole handshake; it closes nc when that fails.
func Handshake(nc net.Conn, addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	_ = nc.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// Result is what one `ssh host COMMAND` produced.
type Result struct {
	Stdout, Stderr string
	Code           int // the exit status
}

// Run runs cmd on a new session of c (no terminal) with stdin and waits
// up to timeout for it to finish. An exit status other than 0 is a
// Result, not an error; an error is a session that could not run or did
// not finish.
func Run(c *ssh.Client, cmd, stdin string, timeout time.Duration) (Result, error) {
	sess, err := c.NewSession()
	if err != nil {
		return Result{}, fmt.Errorf("new session: %w", err)
	}
	defer sess.Close()
	var out, errb LockedBuffer
	sess.Stdin, sess.Stdout, sess.Stderr = strings.NewReader(stdin), &out, &errb
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err = <-done:
	case <-time.After(timeout):
		return Result{Stdout: out.String(), Stderr: errb.String()}, fmt.Errorf("%q did not finish within %v", cmd, timeout)
	}
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Code = exit.ExitStatus()
	default:
		return r, fmt.Errorf("%q: %w (stdout %q, stderr %q)", cmd, err, r.Stdout, r.Stderr)
	}
	return r, nil
}
