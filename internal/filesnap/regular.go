package filesnap

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotRegular is the error of OpenRegular for a path that is not a
// regular file: a FIFO, a socket, a device, a directory.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading and refuses anything but a regular
// file (symbolic links followed), without ever blocking on it: a FIFO at
// a data or rule path would block a plain open until a writer comes, and
// a read until it writes, forever. The error, an *os.PathError, names the
// file. Every data and rule file riskgate loads is opened through it.
func OpenRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := openNonblocking(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		what := ErrNotRegular
		if fi.IsDir() {
			what = fmt.Errorf("is a directory, %w", ErrNotRegular)
		}
		return nil, nil, &os.PathError{Op: "open", Path: path, Err: what}
	}
	return f, fi, nil
}

// ReadRegular reads the whole regular file at path (see OpenRegular),
// refusing one larger than limit bytes when limit > 0.
func ReadRegular(path string, limit int64) ([]byte, error) {
	f, fi, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if limit > 0 && fi.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	r := io.Reader(f)
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// ReadSmall reads a small file that may also be a pipe (a secret given as
// --hmac-secret-file <(vault read ...), a configuration file), at most
// limit bytes, without blocking on a FIFO that has no writer: the open
// does not wait for one, and the read then finds the end at once (an
// empty file, which the caller refuses as it refuses any empty one).
func ReadSmall(path string, limit int64) ([]byte, error) {
	f, err := openNonblocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}
