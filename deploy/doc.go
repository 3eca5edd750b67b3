// Package deploy holds no code. Its directory keeps the deployment examples
// (parley.service for systemd, README.md for Fly.io and a VPS), and its tests
// check the packaging recipes at the repository root that no Docker engine
// or Fly account is around to try: the Dockerfile is linted and its build
// command run to prove the binary is static, fly.toml and the systemd unit
// are parsed and checked against what parley needs.
package deploy
