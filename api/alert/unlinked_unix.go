//go:build unix

package alert

import (
	"io/fs"
	"os"
	"syscall"
)

// unlinked reports whether the open file of info has no name left: it
// was removed, and what it holds goes when it is closed.
func unlinked(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// readerOf opens a reader of f, the file at path, when it is a regular
// file (O_NONBLOCK: a path replaced by a FIFO meanwhile does not block the
// open); nil when it cannot.
func readerOf(path string, f *os.File) *os.File {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	if ri, err := r.Stat(); err != nil || !os.SameFile(fi, ri) {
		r.Close()
		return nil
	}
	return r
}
