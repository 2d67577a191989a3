package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// FileSink appends alerts as JSON lines to a file, created with mode 0600
// when missing. It follows its path: at most once a second (pathCheck),
// before a write, it checks that the path still names the file it holds
// open, and when the file was removed, renamed or replaced (log rotation
// without a SIGHUP, an operator's rm), it opens the path again, creating
// it with the mode of the file it had. Lines written to a file that was
// removed since the last check are copied to the new one: none is lost.
// When the path cannot be opened (its directory is gone), the write fails
// and is retried, the alerts held in the sink's queue, until it can. A
// SIGHUP reopens the path at once (Reopen).
type FileSink struct {
	WriterSink
	path string
	f    *os.File
	// r reads f, so that the lines written to it after it was removed can
	// be read back; nil when it cannot (not a regular file, not
	// readable).
	r *os.File

	now     func() time.Time
	checked time.Time // when the path was last checked
	// checkedSize is f's size at the last check: what follows was
	// written since, and is lost with the file if it was removed.
	checkedSize int64
	failing     bool // the last check could not open the path: each write checks again
	report      func(reopenReport)
}

// pathCheck is how often, at most, a FileSink checks that its path still
// names the file it writes to: a stat of each per batch of alerts would
// cost more than the write.
const pathCheck = time.Second

// Reasons for reopening an alert file (the reason of its log line).
const (
	reopenAsked    = "sighup"   // Reopen was called (SIGHUP)
	reopenMissing  = "missing"  // the path names no file: removed or renamed away
	reopenReplaced = "replaced" // the path names another file than the one open
)

// reopenReport is what a FileSink says of a reopen, for the dispatcher to
// log and count.
type reopenReport struct {
	path, reason string
	err          error // the path could not be opened: the reopen failed
	// recovered lines were copied from the removed file to the new one;
	// lost is the error that kept others from it.
	recovered int
	lost      error
}

// OpenFileSink opens path for appending.
func OpenFileSink(path string) (*FileSink, error) {
	f, r, err := openAppend(path, 0o600)
	if err != nil {
		return nil, err
	}
	s := &FileSink{path: path, f: f, r: r, now: time.Now}
	s.name, s.w = "file", f
	s.checked = s.now()
	if fi, err := f.Stat(); err == nil {
		s.checkedSize = fi.Size()
	}
	return s, nil
}

// openAppend opens path for appending, creating it with mode perm when
// missing, and a reader of it when it is a regular file that may be read.
func openAppend(path string, perm fs.FileMode) (f, r *os.File, err error) {
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm)
	if err != nil {
		return nil, nil, fmt.Errorf("alert: open alert file: %w", err)
	}
	return f, readerOf(path, f), nil
}

// Path is the file's path.
func (s *FileSink) Path() string { return s.path }

// reportTo makes s tell report of its reopens.
func (s *FileSink) reportTo(report func(reopenReport)) {
	s.mu.Lock()
	s.report = report
	s.mu.Unlock()
}

// Send implements Sink: it follows the path (see FileSink), then writes.
func (s *FileSink) Send(_ context.Context, alerts []*Alert) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.follow(); err != nil {
		return 0, err
	}
	return s.write(alerts)
}

// follow checks, at most once every pathCheck (at each write while the
// path cannot be opened), that the path names the file open, and if it
// does not, reopens it. The error is the reopen's. A path it cannot stat
// for another reason than its absence (a directory it may not search)
// says nothing: the writes go on to the file open.
func (s *FileSink) follow() error {
	now := s.now()
	if !s.failing && now.Sub(s.checked) < pathCheck {
		return nil
	}
	s.checked = now
	reason := reopenMissing
	named, err := os.Stat(s.path)
	switch {
	case err == nil:
		if open, err := s.f.Stat(); err == nil && os.SameFile(named, open) {
			s.checkedSize, s.failing = open.Size(), false
			return nil
		}
		reason = reopenReplaced
	case !errors.Is(err, fs.ErrNotExist):
		if open, err := s.f.Stat(); err == nil {
			s.checkedSize = open.Size() // what is copied stays a second's
		}
		return nil
	}
	r := s.reopen(reason)
	if r.err != nil {
		r.err = fmt.Errorf("%w; alerts are held and retried until it can be created", r.err)
		if !s.failing {
			s.failing = true
			s.tell(r) // once until it can be
		}
		return fmt.Errorf("alert: file: %s is %s: %w", s.path, reasonText(reason), r.err)
	}
	s.failing = false
	s.tell(r)
	return nil
}

func (s *FileSink) tell(r reopenReport) {
	if s.report != nil {
		s.report(r)
	}
}

// reopen opens the path again, with the mode of the file open, and
// writes to it from now on; when the file open was removed (no link to
// it is left), what was written to it since the last check is copied to
// the new one first. When the path cannot be opened, the file open stays.
// The caller holds s.mu.
func (s *FileSink) reopen(reason string) reopenReport {
	r := reopenReport{path: s.path, reason: reason}
	old := s.f
	perm := fs.FileMode(0o600)
	info, statErr := old.Stat()
	if statErr == nil {
		perm = info.Mode().Perm()
	}
	f, rd, err := openAppend(s.path, perm)
	if err != nil {
		r.err = err
		return r
	}
	if statErr == nil && unlinked(info) && info.Size() > s.checkedSize {
		r.recovered, r.lost = s.copyTail(f, info.Size())
	}
	oldR := s.r
	s.f, s.w, s.r = f, f, rd
	s.checkedSize = 0
	if fi, err := f.Stat(); err == nil {
		s.checkedSize = fi.Size()
	}
	if oldR != nil {
		oldR.Close()
	}
	if err := old.Close(); err != nil && r.lost == nil && r.recovered > 0 {
		r.lost = fmt.Errorf("alert: close the removed alert file: %w", err)
	}
	return r
}

// copyTail copies the lines written to old after the last check (up to
// size) to f, and returns how many.
func (s *FileSink) copyTail(f *os.File, size int64) (int, error) {
	if s.r == nil {
		return 0, errors.New("alert: the removed alert file could not be read: the lines written to it since the last check cannot be copied")
	}
	tail := make([]byte, size-s.checkedSize)
	if _, err := s.r.ReadAt(tail, s.checkedSize); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("alert: read the removed alert file: %w", err)
	}
	// Whole lines only: a write cut short is retried whole.
	if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
		tail = tail[:i+1]
	} else {
		return 0, nil
	}
	if _, err := f.Write(tail); err != nil {
		return 0, fmt.Errorf("alert: copy the lines of the removed alert file: %w", err)
	}
	return bytes.Count(tail, []byte("\n")), nil
}

// Reopen opens the path again at once, for a file that was renamed by a
// log rotator (SIGHUP); alerts being written finish in the old file. When
// the path cannot be opened (its directory is gone, say), the sink keeps
// the file it has open and Reopen returns the error; the next write checks
// the path again.
func (s *FileSink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reopen(reopenAsked)
	s.checked = s.now()
	// A failure makes the next write check the path again.
	s.failing = r.err != nil
	if r.err != nil {
		r.err = fmt.Errorf("%w; alerts go on to the file open before while the path names it, and wait for the path while it names none", r.err)
	}
	s.tell(r)
	return r.err
}

func reasonText(reason string) string {
	if reason == reopenReplaced {
		return "another file than the one open"
	}
	return "gone (removed or renamed)"
}

// Close implements Sink: it syncs and closes the file.
func (s *FileSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r != nil {
		s.r.Close()
	}
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return fmt.Errorf("alert: sync alert file: %w", err)
	}
	return s.f.Close()
}
