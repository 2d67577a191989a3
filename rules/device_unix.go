//go:build unix

package rules

import (
	"os"
	"syscall"
)

// folderDevice is the file system a folder (followed through symbolic
// links) is on.
func folderDevice(path string) (uint64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Dev), true // Dev is int32 or uint64 by system
}
