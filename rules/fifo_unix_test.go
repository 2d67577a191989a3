//go:build unix

package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/riskgate/riskgate/internal/fifotest"
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
	fifotest.Make(t, pipe)
	for _, tc := range []struct {
		name string
		load func() error
	}{
		{"LoadFiles folder", func() error { _, err := LoadFiles(dir); return err }},
		{"LoadFiles file", func() error { _, err := LoadFiles(pipe); return err }},
		{"Reload", func() error { _, err := m.Reload(TriggerSignal); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) { fifotest.Refused(t, tc.name, pipe, tc.load) })
	}
	if label(m.Current().Version()) != "a" {
		t.Error("the rules in force changed")
	}
}
