//go:build unix

package filewatch

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestFIFONeverBlocks: a FIFO among content-watched files (mkfifo
// rules/pipe.yaml) is a file like another for the watcher, never read:
// New, the checks and Close return, and a later good file is reported.
func TestFIFONeverBlocks(t *testing.T) {
	for _, mode := range []struct {
		name  string
		watch func(dir string) string
	}{
		{"in a watched folder", func(dir string) string { return dir }},
		{"the watched file", func(dir string) string { return filepath.Join(dir, "pipe.yaml") }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "a.yaml"), "one")
			fifotest.Make(t, filepath.Join(dir, "pipe.yaml"))
			var rec recorder
			var w *Watcher
			fifotest.Returns(t, "New", func() {
				var err error
				w, err = New([]string{mode.watch(dir)}, rec.changed, Options{Poll: 10 * time.Millisecond, Debounce: 10 * time.Millisecond, Content: true, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Error(err)
				}
			})
			if w == nil {
				return
			}
			time.Sleep(50 * time.Millisecond) // a few polls over the FIFO
			if mode.name == "in a watched folder" {
				write(t, filepath.Join(dir, "b.yaml"), "two")
				waitFor(t, "the good file after the FIFO", rec.count, 1)
			}
			fifotest.Returns(t, "Close", func() { _ = w.Close() })
		})
	}
}
