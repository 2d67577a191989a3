//go:build unix

package rules

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFORuleFileRefused: a FIFO among the rule files (mkfifo
// rules/pipe.yaml) is refused at once, naming it, at a load and at a
// reload (SIGHUP), which keeps the rules in force; nothing blocks.
func TestFIFORuleFileRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(ruleA), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, dir)
	pipe := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, tc := range []struct {
		name string
		load func() error
	}{
		{"LoadFiles folder", func() error { _, err := LoadFiles(dir); return err }},
		{"LoadFiles file", func() error { _, err := LoadFiles(pipe); return err }},
		{"Reload", func() error { _, err := m.Reload(TriggerSignal); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.load() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), pipe) {
					t.Fatalf("err = %v, want not a regular file naming %s", err, pipe)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("blocked on the FIFO")
			}
		})
	}
	if label(m.Current().Version()) != "a" {
		t.Error("the rules in force changed")
	}
}
