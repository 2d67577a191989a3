//go:build unix

package geoip

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps f read-only. The mapping outlives f: the caller may close
// the file, and the kernel keeps the inode alive until unmap even when the
// file is renamed over or deleted, which is what makes reload-by-rename
// safe for readers still in flight.
func mapFile(f *os.File, size int) ([]byte, func() error, error) {
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return unix.Munmap(data) }, nil
}
