//go:build linux

package filesnap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// snapshot copies src (size bytes) into the first place that takes it and
// maps the copy.
func snapshot(src *os.File, path string, size int, opt Options) (*Snapshot, error) {
	dirs := []string{opt.Dir}
	if opt.Dir == "" {
		dirs = []string{filepath.Dir(path), os.TempDir()}
	}
	var errs []error
	for _, dir := range dirs {
		dst, err := tmpfile(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
			continue
		}
		s, err := copyAndMap(src, dst, size, "unlinked file in "+dir)
		if err == nil {
			return s, nil
		}
		if errors.Is(err, ErrChanged) {
			return nil, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", dir, err))
	}
	if opt.Dir != "" {
		return nil, fmt.Errorf("private copy: %w", errors.Join(errs...))
	}
	// No directory took it: RAM, sealed so that not even a process that
	// finds it in /proc can change its size or content.
	fd, err := unix.MemfdCreate("riskgate-snapshot", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		errs = append(errs, fmt.Errorf("memfd: %w", err))
		return nil, fmt.Errorf("private copy: %w", errors.Join(errs...))
	}
	dst := os.NewFile(uintptr(fd), "memfd")
	s, err := copyAndMap(src, dst, size, "memfd (RAM)")
	if err != nil {
		errs = append(errs, fmt.Errorf("memfd: %w", err))
		return nil, fmt.Errorf("private copy: %w", errors.Join(errs...))
	}
	return s, nil
}

// tmpfile creates an unlinked file in dir: O_TMPFILE where the file system
// has it (the file never has a name), else a named file removed at once.
func tmpfile(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(unlinked snapshot)")), nil
	}
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EROFS) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOSPC) {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".riskgate-snapshot-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// copyAndMap copies src into dst from offset 0 (copy_file_range: a kernel
// copy, or shared blocks on reflink file systems), maps dst read-only and
// closes it: the mapping keeps the unlinked file alive until unmapped.
func copyAndMap(src, dst *os.File, size int, where string) (*Snapshot, error) {
	defer dst.Close()
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	n, err := io.Copy(dst, src)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	if n != int64(size) {
		return nil, ErrChanged
	}
	if where == "memfd (RAM)" {
		if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
	}
	data, err := unix.Mmap(int(dst.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return &Snapshot{data: data, release: func() error { return unix.Munmap(data) }, where: where}, nil
}
