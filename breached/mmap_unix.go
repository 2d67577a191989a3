//go:build unix

package breached

import (
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// mapFile maps the whole file read-only, in place, for one-off reads
// (ReadInfo); serving goes through Open's private snapshot instead, since a
// file rewritten in place under this mapping would fault its readers.
func mapFile(path string) ([]byte, func([]byte) error, error) {
	fd, st, err := filesnap.OpenRegular(path) // a FIFO must not block
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close() // the mapping outlives the descriptor
	size := st.Size()
	if size < fixedHeader+4 {
		// Too small to be a filter, and mmap refuses empty files: read it
		// so that parseHeader says what it is.
		b, err := io.ReadAll(fd)
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
