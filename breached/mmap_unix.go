//go:build unix

package breached

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole file read-only, in place, for one-off reads
// (ReadInfo); serving goes through Open's private snapshot instead, since a
// file rewritten in place under this mapping would fault its readers.
func mapFile(path string) ([]byte, func([]byte) error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close() // the mapping outlives the descriptor
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, errors.New("not a regular file")
	}
	size := st.Size()
	if size < fixedHeader+4 {
		// Too small to be a filter, and mmap refuses empty files: read it
		// so that parseHeader says what it is.
		b, err := os.ReadFile(path)
		return b, nil, err
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("file of %d bytes is too large to map", size)
	}
	b, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return b, unix.Munmap, nil
}
