//go:build linux

package filesnap

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSnapshotMemfd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("memfd is Linux only")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	must(t, os.WriteFile(path, []byte("hello, memfd"), 0o644))
	src, err := os.Open(path)
	must(t, err)
	defer src.Close()
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	must(t, err)
	s, err := copyAndMap(src, os.NewFile(uintptr(fd), "memfd"), 12, "memfd (RAM)")
	must(t, err)
	defer s.Close()
	if string(s.Bytes()) != "hello, memfd" {
		t.Errorf("got %q", s.Bytes())
	}
}

// TestTornCopyIsRefused: a file whose size differs from the one seen at
// open (rewritten while copied) is refused with ErrChanged.
func TestTornCopyIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.bin")
	must(t, os.WriteFile(path, []byte("0123456789"), 0o644))
	for _, size := range []int{5, 20} {
		src, err := os.Open(path)
		must(t, err)
		dst, err := tmpfile(t.TempDir())
		must(t, err)
		_, err = copyAndMap(src, dst, size, "test")
		src.Close()
		if !errors.Is(err, ErrChanged) {
			t.Errorf("size %d: err = %v, want ErrChanged", size, err)
		}
	}
}

// TestRecoverTurnsFaultIntoError maps a file in place (what Open avoids),
// truncates it and reads past the new end under Recover: the read fails with
// a *Fault instead of killing the test binary with SIGBUS.
func TestRecoverTurnsFaultIntoError(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs mmap")
	}
	path := filepath.Join(t.TempDir(), "data.bin")
	must(t, os.WriteFile(path, make([]byte, 1<<16), 0o644))
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, 1<<16, unix.PROT_READ, unix.MAP_SHARED)
	must(t, err)
	defer unix.Munmap(data)
	must(t, os.Truncate(path, 0))
	read := func() (b byte, err error) {
		defer Recover(&err, debug.SetPanicOnFault(true))
		return data[1<<15], nil
	}
	_, err = read()
	var fault *Fault
	if !errors.As(err, &fault) || fault.Addr == 0 {
		t.Fatalf("err = %v, want a *Fault", err)
	}
	// Other panics are not swallowed.
	defer func() {
		if recover() == nil {
			t.Error("a nil dereference was swallowed")
		}
	}()
	func() (err error) {
		defer Recover(&err, debug.SetPanicOnFault(true))
		var p *int
		return errors.New(string(rune(*p)))
	}()
}
