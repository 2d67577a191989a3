//go:build unix

package capture

import (
	"errors"
	"fmt"
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
func lockFolder(dir string) (release func(), err error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("capture: lock the folder: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("capture: %s is being written by another capture%s: a capture folder is one server's; give each server its own (a backtest reads files copied in from others)", dir, holder)
		}
		return nil, fmt.Errorf("capture: lock the folder: %w", err)
	}
	// The process id is for the error above only: a failure to write it
	// leaves the lock held.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
