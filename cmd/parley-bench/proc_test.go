package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250, stime 50 ticks.
	stat := "1234 (we ird) (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200"
	got, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := parseStatCPU([]byte("1234 (x) S 1 2")); err == nil {
		t.Error("a short stat line was accepted")
	}
}

func TestReadOwnProcess(t *testing.T) {
	rss, err := readRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("readRSS: %d KiB, %v", rss, err)
	}
	if _, err := readCPU(os.Getpid()); err != nil {
		t.Errorf("readCPU: %v", err)
	}
	if _, err := readRSS(-1); err == nil {
		t.Error("readRSS of no process succeeded")
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineCPU([]byte("cpu  100 5 50 1000 20 3 2 0 40 0"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 160 * clockTick; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := machineCPU(); err != nil {
		t.Errorf("machineCPU: %v", err)
	}
}
