//go:build unix

package breached

import (
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFORefused: a FIFO as the filter file is refused at once, naming
// it, by OpenLive and ReadInfo.
func TestFIFORefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pwned.rgbf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, tc := range []struct {
		name string
		open func() error
	}{
		{"OpenLive", func() error {
			l, err := OpenLive(fifo, LiveOptions{Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				l.Close()
			}
			return err
		}},
		{"ReadInfo", func() error { _, err := ReadInfo(fifo, false); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.open() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), fifo) {
					t.Fatalf("err = %v, want not a regular file naming %s", err, fifo)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("blocked on the FIFO")
			}
		})
	}
}
