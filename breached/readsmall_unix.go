//go:build unix

package breached

import (
	"errors"
	"syscall"
)

// readSmall reads a whole small file into buf (which has room for at least
// size+1 bytes) with three system calls: open, read, close. A downloader
// folder is a million files of about 35 KB, where os.Open (which also asks
// the poller about the file), a buffered reader and the read that finds
// EOF cost more than the parsing. ok is false when the file turned out
// not to have the expected size; the caller then reads it the general way.
func readSmall(path string, buf []byte, size int64) (n int, ok bool, err error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false, err
	}
	defer syscall.Close(fd)
	want := int(size) + 1 // one more byte than expected tells a grown file
	for n < want {
		m, err := syscall.Read(fd, buf[n:want])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return n, false, err
		}
		if m == 0 {
			break
		}
		n += m
		if n == int(size) {
			// A regular file read short only at its end: this read
			// returned everything up to the size seen when listing.
			break
		}
	}
	return n, n == int(size), nil
}
