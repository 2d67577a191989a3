//go:build unix

package breached

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestBuildRefusesSpecialInputs: an input that is not a regular file (a
// FIFO, a device, a pipe given as /dev/fd/N or /dev/stdin) is refused
// naming it before anything is opened. The build reads a file more than
// once (a sample to size the filter, then the whole; a second pass for
// tiers), which a pipe cannot give: /dev/zero and a pipe of more than a
// sample panicked sizing the filter (a read of N bytes of a file of size
// 0 made +Inf lines), and a FIFO blocked the open for ever, SIGTERM
// included.
func TestBuildRefusesSpecialInputs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "hashes.txt")
	fifotest.Make(t, fifo)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	pipe := fmt.Sprintf("/dev/fd/%d", pr.Fd())
	if _, err := os.Stat(pipe); err != nil {
		t.Skipf("no /dev/fd: %v", err)
	}
	for _, c := range []struct{ name, path string }{
		{"a FIFO", fifo},
		{"a device", "/dev/zero"},
		{"a pipe", pipe},
	} {
		fifotest.Refused(t, c.name, c.path, func() error {
			_, err := Build(context.Background(), filepath.Join(dir, "out.rgbf"), []Input{{Path: c.path}}, BuildOptions{})
			return err
		})
	}
}
