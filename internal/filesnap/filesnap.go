// Package filesnap opens a data file (a GeoIP database, a breached-password
// filter) as a private, read-only, memory-mapped snapshot that nobody else
// can change or truncate while readers use it.
//
// Mapping a file in place is fast, but the mapping follows the file: when an
// operator rewrites it in place (`cp new.mmdb City.mmdb`, `: > file`) rather
// than renaming a new file over it, the pages change under the readers, and
// pages past the new end of a truncated file raise SIGBUS, which kills a Go
// process. A rename is safe (the old inode lives on until unmapped); an
// in-place write never is, and nothing tells the reader which one an
// operator will do. So Open copies the file first, into an unlinked
// temporary file that has no name anyone could open, and maps the copy:
//
//  1. in Options.Dir when set; else beside the file (same file system, so
//     the kernel's copy_file_range can share the blocks on btrfs, XFS and
//     other reflink file systems: no time, no space); else in os.TempDir();
//  2. where no directory takes the copy (read-only or full), in a sealed
//     memfd (RAM; swappable only with swap);
//  3. where neither exists (not Linux), in anonymous memory.
//
// The copy costs one sequential read and write of the file (about a second
// per gigabyte on an SSD, done off the serving path) and its size on disk
// while the snapshot lives; its pages stay in the page cache like those of
// the original, so RAM use is the same as mapping the file itself. A file
// rewritten while it is being copied gives a torn copy: Open compares the
// file's size and modification time before and after, and callers verify
// the content (checksums, a tree walk) before they use it.
//
// Recover is the second line of defence: it turns a fault on mapped memory
// (an I/O error under the copy, say) into an error for one lookup instead
// of a crash.
package filesnap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// Options choose where the private copy goes.
type Options struct {
	// Dir holds the unlinked copy. Empty: beside the file, else
	// os.TempDir() ($TMPDIR), else memory.
	Dir string
	// MaxSize refuses larger files (0: no limit).
	MaxSize int64
}

// Snapshot is a read-only private copy of a file's bytes. Its memory stays
// valid until Close, whatever happens to the file.
type Snapshot struct {
	data    []byte
	release func() error
	where   string
	info    os.FileInfo
}

// Bytes returns the snapshot's content. The slice is read-only (writing
// to it faults) and must not be used after Close.
func (s *Snapshot) Bytes() []byte { return s.data }

// Where says where the copy lives, for logs: "unlinked file in DIR",
// "memfd" or "memory".
func (s *Snapshot) Where() string { return s.where }

// Stat describes the file the snapshot copied, as it was opened: a
// path whose stat is the same version (SameVersion) holds what the
// snapshot holds, short of a rewrite in place that kept the file's size
// and time.
func (s *Snapshot) Stat() os.FileInfo { return s.info }

// SameVersion reports whether two stats of a path are of one version of
// the file: the same file (device and inode), size and modification time,
// as internal/filewatch tells a change. A nil one is no version.
func SameVersion(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Close releases the copy (its disk space is freed with it).
func (s *Snapshot) Close() error {
	if s == nil || s.release == nil {
		return nil
	}
	r := s.release
	s.release, s.data = nil, nil
	return r()
}

// ErrChanged reports a file that was modified while it was being copied.
var ErrChanged = errors.New("the file changed while it was being read (rewritten in place?); it is read again at its next change")

// Open copies path into a private snapshot (see the package comment). An
// empty file gives an empty snapshot, so that the caller's parser says
// what is wrong with it; anything but a regular file (a FIFO, a device)
// is refused at once, without blocking (see OpenRegular).
func Open(path string, opt Options) (*Snapshot, error) {
	src, before, err := OpenRegular(path) // a FIFO must not block the open
	if err != nil {
		return nil, err
	}
	defer src.Close()
	switch {
	case opt.MaxSize > 0 && before.Size() > opt.MaxSize:
		return nil, fmt.Errorf("file of %d bytes is larger than the %d-byte limit", before.Size(), opt.MaxSize)
	case int64(int(before.Size())) != before.Size():
		return nil, fmt.Errorf("file of %d bytes is too large to map", before.Size())
	}
	if before.Size() == 0 {
		return &Snapshot{where: "empty", info: before}, nil
	}
	s, err := snapshot(src, path, int(before.Size()), opt)
	if err != nil {
		return nil, err
	}
	after, err := os.Stat(path)
	if err == nil && os.SameFile(before, after) && (after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime())) {
		_ = s.Close()
		return nil, ErrChanged
	}
	s.info = before
	return s, nil
}

// Fault is the error Recover sets for a fault on mapped memory.
type Fault struct{ Addr uintptr }

func (f *Fault) Error() string {
	return fmt.Sprintf("memory fault at %#x reading a mapped file (damaged or truncated under its mapping)", f.Addr)
}

// Recover is the second line of defence against a fault on memory-mapped
// data (SIGBUS or SIGSEGV at a mapped address): with runtime/debug's
// SetPanicOnFault the fault panics in the calling goroutine instead of
// killing the process, and Recover, deferred, turns that panic into a
// *Fault in *err and restores the goroutine's setting. Use it at the top of
// a function that reads mapped data:
//
//	defer filesnap.Recover(&err, debug.SetPanicOnFault(true))
//
// Any other panic, a nil dereference included, goes on. It costs two
// runtime calls and an open-coded defer (a few nanoseconds) and does not
// allocate.
func Recover(err *error, old bool) {
	debug.SetPanicOnFault(old)
	r := recover()
	if r == nil {
		return
	}
	var re runtime.Error
	a, ok := r.(interface{ Addr() uintptr })
	if e, isErr := r.(error); !ok || !isErr || !errors.As(e, &re) {
		panic(r)
	}
	*err = &Fault{Addr: a.Addr()}
}
