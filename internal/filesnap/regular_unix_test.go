//go:build unix

package filesnap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestSpecialFilesRefused: a FIFO, a device or a folder at a data path is
// refused at once, naming the file, by every way a data file is opened.
func TestSpecialFilesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "city.mmdb")
	fifotest.Make(t, fifo)
	regular := filepath.Join(dir, "ok")
	must(t, os.WriteFile(regular, []byte("data"), 0o644))
	opens := []struct {
		name string
		open func(path string) error
	}{
		{"Open", func(p string) error {
			s, err := Open(p, Options{})
			if err == nil {
				s.Close()
			}
			return err
		}},
		{"OpenRegular", func(p string) error {
			f, _, err := OpenRegular(p)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"ReadRegular", func(p string) error { _, err := ReadRegular(p, 1<<20); return err }},
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"fifo", fifo, "not a regular file"},
		{"device", os.DevNull, "not a regular file"},
		{"directory", dir, "is a directory"},
		{"regular", regular, ""},
	} {
		for _, o := range opens {
			t.Run(tc.name+"/"+o.name, func(t *testing.T) {
				var err error
				fifotest.Returns(t, o.name, func() { err = o.open(tc.path) })
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) || !errors.Is(err, ErrNotRegular) {
					t.Fatalf("err = %v, want %q naming %s", err, tc.want, tc.path)
				}
			})
		}
	}
}

// TestReadRegularLimit: a file larger than the limit is refused.
func TestReadRegularLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	must(t, os.WriteFile(p, make([]byte, 100), 0o644))
	if _, err := ReadRegular(p, 99); err == nil || !strings.Contains(err.Error(), "larger than 99 bytes") {
		t.Fatalf("err = %v", err)
	}
	if data, err := ReadRegular(p, 100); err != nil || len(data) != 100 {
		t.Fatalf("%d bytes, %v", len(data), err)
	}
}
