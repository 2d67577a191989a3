//go:build !unix

package filesnap

import (
	"fmt"
	"os"
)

// openNonblocking stats path first where there is no O_NONBLOCK, so that
// a special file is refused before it is opened.
func openNonblocking(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		what := ErrNotRegular
		if fi.IsDir() {
			what = fmt.Errorf("is a directory, %w", ErrNotRegular)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: what}
	}
	return os.Open(path)
}
