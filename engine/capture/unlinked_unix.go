//go:build unix

package capture

import (
	"io/fs"
	"syscall"
)

// unlinked reports whether the open file of info has no name left: it
// was removed, and what it holds goes when it is closed. known is false
// when it cannot tell.
func unlinked(info fs.FileInfo) (gone, known bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0, ok
}
