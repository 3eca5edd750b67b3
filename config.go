package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// configFile is the optional config file, in the data dir.
const configFile = "parley.conf"

// fileSettings are the settings a config file may hold: the environment
// variables, by name (the data dir itself and the host key are not among
// them: one locates the file, the other is a secret).
var fileSettings = map[string]bool{
	"PARLEY_LISTEN": true, "PARLEY_NO_SEED_KEYS": true, "PARLEY_DEFAULT_ROOM": true,
	"PARLEY_STORE": true, "PARLEY_RETAIN": true, "PARLEY_MSG_RATE": true, "PARLEY_MSG_BURST": true,
	"PARLEY_OPS": true, "PARLEY_PPROF": true, "PARLEY_LOG_FORMAT": true, "PARLEY_LOG_LEVEL": true,
	"PARLEY_ADMIN_KEYS": true,
	// Connection limits and the PROXY protocol (limits.go).
	"PARLEY_MAX_UNAUTH": true, "PARLEY_MAX_UNAUTH_PER_SOURCE": true, "PARLEY_MAX_SESSIONS_PER_KEY": true,
	"PARLEY_MAX_SESSIONS_PER_SOURCE": true, "PARLEY_MAX_CONNS_PER_KEY": true, "PARLEY_MAX_CHANNELS_PER_CONN": true,
	"PARLEY_PENALTY_FAILURES": true, "PARLEY_PENALTY": true, "PARLEY_PENALTY_MAX": true,
	"PARLEY_PENALTY_TRICKLE": true, "PARLEY_PROXY_PROTOCOL": true,
	// The web page (webwire.go, webtls.go).
	"PARLEY_WEB": true, "PARLEY_WEB_URL": true, "PARLEY_WEB_TLS_CERT": true, "PARLEY_WEB_TLS_KEY": true,
	"PARLEY_WEB_TRUSTED_PROXY": true,
}

// withConfigFile layers DATA/parley.conf under the environment: flags
// override the environment, which overrides the file, which overrides the
// defaults. A missing file is fine; a bad line fails with its number.
func withConfigFile(args []string, lookup lookupFunc) (lookupFunc, error) {
	path := filepath.Join(dataDirOf(args, lookup), configFile)
	vals, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		v, ok := vals[name]
		return v, ok
	}, nil
}

// dataDirOf finds the data dir before flags are parsed: --data, then
// PARLEY_DATA_DIR, then ./data.
func dataDirOf(args []string, lookup lookupFunc) string {
	for i, a := range args {
		for _, f := range []string{"-data", "--data"} {
			if a == f && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, f+"="); ok {
				return v
			}
		}
	}
	if v, ok := lookup("PARLEY_DATA_DIR"); ok && v != "" {
		return v
	}
	return defaultDataDir
}

// readConfig reads NAME=VALUE lines; blank lines and # comments are
// skipped; a value may be double-quoted.
func readConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil // no file; a bad data dir is reported by the server, clearly
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !fileSettings[name] {
			return nil, fmt.Errorf("%s line %d: %q is not a setting (use NAME=VALUE with one of the PARLEY_* names in the README)", path, n, name)
		}
		if strings.HasPrefix(value, `"`) {
			if value, err = strconv.Unquote(value); err != nil {
				return nil, fmt.Errorf("%s line %d: bad quoted value", path, n)
			}
		}
		vals[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return vals, nil
}
