// Package app is parley's composition root: the one place that chooses and
// builds the implementations. From a Config (filled by main from flags,
// environment and parley.conf, or by a test) New prepares the data dir,
// seeds and opens authorized_keys, opens the store (SQLite or memory), the
// access lists and the hub, and hands them ready to the SSH front door
// (package server), which imports no storage package. Serve and Close run
// and stop the whole thing, so tests start exactly what the binary runs.
//
// An App's fields are set by New and not changed after; the retention loop
// runs on its own goroutine until Close.
package app
