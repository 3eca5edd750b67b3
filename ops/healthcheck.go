package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrDisabled is returned by HealthURL when the ops listener is turned off
// (an empty address).
var ErrDisabled = errors.New("the ops listener is disabled (empty --ops / PARLEY_OPS)")

// HealthcheckTimeout bounds Healthcheck when ctx has no earlier deadline.
const HealthcheckTimeout = 5 * time.Second

// HealthURL returns the /healthz URL for an ops listen address. A wildcard
// or empty host ("0.0.0.0:9091", ":9091", "[::]:9091") is reached on
// loopback, which is where a check inside the same container or host runs.
func HealthURL(addr string) (string, error) {
	if addr == "" {
		return "", ErrDisabled
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("ops address %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// Healthcheck asks url (the ops listener's /healthz) whether the process is
// serving: nil on a 2xx answer, an error otherwise. It ignores proxy
// settings from the environment, and does not follow redirects.
func Healthcheck(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, HealthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}
