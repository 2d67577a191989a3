//go:build unix

package breached

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestBuildRefusesUnwritableOutput: an output the filter cannot be
// renamed onto, or whose folder cannot take it, is refused before any
// input is read, and a device or FIFO there is left as it was. The
// rename replaced a device with the filter (--out /dev/null, as root,
// took /dev/null away from the whole host), and a folder, a missing
// folder or a read-only one failed only once every input was read,
// minutes into a full-size build, with "rename ...: file exists" for a
// folder.
func TestBuildRefusesUnwritableOutput(t *testing.T) {
	dir := t.TempDir()
	in := []Input{{Path: filepath.Join("testdata", "hibp-sample.txt")}}
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	fifotest.Make(t, fifo)
	for _, c := range []struct {
		name, out, want string
	}{
		{"a folder", folder, "is a folder"},
		{"a FIFO", fifo, "not a regular file"},
		{"a device", os.DevNull, "not a regular file"},
		{"a missing folder", filepath.Join(dir, "missing", "f.rgbf"), "no such file or directory"},
	} {
		// A cancelled context fails any read: a refusal must come first.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Build(ctx, c.out, in, BuildOptions{MaxMalformed: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.out) {
			t.Errorf("%s: %v, want an error naming %s, saying %q", c.name, err, c.out, c.want)
		}
	}
	for _, p := range []string{fifo, os.DevNull} {
		if fi, err := os.Lstat(p); err != nil || fi.Mode().IsRegular() {
			t.Errorf("%s was replaced (%v, %v)", p, fi.Mode(), err)
		}
	}
	// A link to a regular file is an output as before: the new filter
	// replaces the link.
	target := filepath.Join(dir, "target.rgbf")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.rgbf")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), link, in, BuildOptions{MaxMalformed: 1}); err != nil {
		t.Errorf("a link to a file: %v", err)
	}
}
