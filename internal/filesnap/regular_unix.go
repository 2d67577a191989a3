//go:build unix

package filesnap

import (
	"os"

	"golang.org/x/sys/unix"
)

// openNonblocking opens path with O_NONBLOCK, which makes the open of a
// FIFO return at once (and that of a tty not wait for its line), then
// clears the flag again, so that the file reads like any other: the
// caller's fstat tells a regular file from the rest.
func openNonblocking(path string) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
