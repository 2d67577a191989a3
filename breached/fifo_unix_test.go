//go:build unix

package breached

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
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
		t.Run(tc.name, func(t *testing.T) {
			var err error
			fifotest.Refused(t, tc.name, fifo, func() error { err = tc.open(); return err })
			// Named once: ReadInfo (breached info, verify) said "open F: open F:".
			if n := strings.Count(fmt.Sprint(err), fifo); n != 1 {
				t.Errorf("%s: %v names %s %d times, want once", tc.name, err, fifo, n)
			}
		})
	}
}
