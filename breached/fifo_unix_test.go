//go:build unix

package breached

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestFIFORefused: a FIFO as the filter file is refused at once, naming
// it, by OpenLive and ReadInfo.
func TestFIFORefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pwned.rgbf")
	fifotest.Make(t, fifo)
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
		t.Run(tc.name, func(t *testing.T) { fifotest.Refused(t, tc.name, fifo, tc.open) })
	}
}
