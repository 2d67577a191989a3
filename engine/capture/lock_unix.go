//go:build unix

package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFolder takes the folder for one sink until release. A second sink
// on the folder, in this process or another (a second server given the
// same folder), is refused: it would finish the first one's file in
// progress as a crash's leftover, and the first would write on into a
// file no longer in the folder, its lines lost without an error.
//
// The lock is on the folder itself (flock(2) on its descriptor), not on
// a file in it: a lock file removed or replaced (a "stale lock" cleared
// by hand) took its lock with it, and a second server then started. The
// file lockFile only says which process holds the lock, for the error.
func lockFolder(dir string) (release func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("capture: lock the folder: %w", err)
	}
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("capture: %s is being written by another capture%s: a capture folder is one server's; give each server its own (a backtest reads files copied in from others)", dir, lockHolder(dir))
		}
		return nil, fmt.Errorf("capture: lock the folder: %w", err)
	}
	// The process id is for the error above only: a failure to write it
	// leaves the lock held.
	writeLockHolder(dir)
	return func() { d.Close() }, nil
}

// openLockFile opens the folder's lockFile without following a link,
// without blocking on a FIFO, and only if it is a regular file: whatever
// was left there, it is never a way to write into another file.
func openLockFile(dir string, flag int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, errors.New("not a regular file")
	}
	return f, nil
}

// writeLockHolder records this process as the folder's writer.
func writeLockHolder(dir string) {
	f, err := openLockFile(dir, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return
	}
	defer f.Close()
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
}

// lockHolder names the process the folder's lockFile names, if it names
// one: " (process N)", else "".
func lockHolder(dir string) string {
	f, err := openLockFile(dir, os.O_RDONLY)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 32))
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		return fmt.Sprintf(" (process %d)", pid)
	}
	return ""
}
