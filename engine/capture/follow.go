package capture

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/riskgate/riskgate/engine/replay"
)

// pathCheck is how often, at most, the writer checks before a write that
// the folder still holds the file it writes to: a stat per line would
// cost more than the line.
const pathCheck = time.Second

// lockNote is what the log says of the folder's lock when the folder
// written to is not the one locked at the start.
const lockNote = "the lock stays on the folder taken at the start: until a restart, a second server given this folder is not refused"

// follow checks that the path of the file being written still names the
// file open: at most once every pathCheck before a write, at every
// rotation and control request (force). A missing path (the file or its
// folder removed or renamed away) or another file there is reported at
// once, and capture goes on in a new file (moved). A path it cannot stat
// for another reason (a folder it may not search) says nothing.
func (w *writer) follow(force bool) {
	if w.f == nil {
		return
	}
	now := w.s.opts.Now()
	if d := now.Sub(w.checked); !force && d >= 0 && d < pathCheck {
		return
	}
	w.checked = now
	open, err := w.f.Stat()
	if err != nil {
		return
	}
	found := "no file"
	named, err := os.Stat(w.path + replay.InProgressSuffix)
	switch {
	case err == nil:
		if os.SameFile(named, open) {
			w.checkpoint()
			return
		}
		found = "another file"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
	default:
		return
	}
	w.moved(found, open)
}

// checkpoint marks what is written so far as seen in the folder.
func (w *writer) checkpoint() {
	w.checkedWritten, w.checkedRules, w.linesSince = w.written, w.rules, 0
}

// moved handles a file being written that its path no longer names: it
// was removed, renamed away, or replaced, or its folder was. The file is
// ended where it is (its gzip stream closed, for a file moved elsewhere
// to be whole); when it was removed (no name left), the lines written to
// it since the last check, which may have been written after the
// removal, are copied to a new file; the folder is made again when it is
// gone; one error is counted and logged, and capture goes on.
func (w *writer) moved(found string, open fs.FileInfo) {
	w.s.writeErrors.Add(1)
	name := filepath.Base(w.path + replay.InProgressSuffix)
	attrs := []any{"dir", w.s.opts.Dir, "file", name, "found", found + " at its path"}

	err := w.bw.Flush()
	if w.gz != nil {
		err = errors.Join(err, w.gz.Close())
	}
	gone, known := unlinked(open)
	if known && !gone {
		err = errors.Join(err, w.f.Sync())
	}
	var tail []byte
	var lost error
	switch {
	case gone && w.linesSince > 0:
		tail, lost = w.readSince(err)
	case !gone && err != nil:
		lost = fmt.Errorf("capture: end the moved file: %w", err) // its last lines may be cut
	}
	w.f.Close()
	lines, rules, fileRules := w.linesSince, w.checkedRules, w.rules
	w.f, w.gz, w.bw, w.enc = nil, nil, nil, nil
	w.s.countMu.Lock()
	w.s.fileDone(0, 0)
	w.s.countMu.Unlock()

	attrs = append(attrs, w.folderAttrs()...)
	switch {
	case !known:
		attrs = append(attrs, "lost_lines", lines, "lost", "the lines written to it since the last check (up to a second before) are lost if it was removed")
	case !gone:
		attrs = append(attrs, "moved", "the file is still on disk elsewhere (renamed away, or its folder moved) and keeps its lines, ended there but still named *.inprogress")
	default:
		attrs = append(attrs, "removed", "the lines written to it before the last check went with it")
	}

	copied := 0
	if len(tail) > 0 {
		if err := w.open(); err != nil {
			w.failed(err)
			lost = err
		} else {
			if rules != "" {
				w.encode(w.rulesRecord(rules))
			}
			if w.f != nil {
				copied = bytes.Count(tail, []byte("\n"))
				_, err := w.bw.Write(tail)
				w.written += int64(len(tail))
				if err != nil { // reported by the next flush, as any write
					copied = 0
				}
				w.rules = ""
				if copied == lines {
					w.rules = fileRules
				}
				w.checkpoint()
				attrs = append(attrs, "new_file", filepath.Base(w.path+replay.InProgressSuffix))
			}
		}
	}
	if gone {
		attrs = append(attrs, "copied_lines", copied)
		if copied < lines {
			attrs = append(attrs, "lost_lines", lines-copied)
		}
	}
	if lost != nil {
		attrs = append(attrs, "err", lost)
	}
	w.s.log.Error("capture: the file being written was removed or replaced; capture goes on in a new file", attrs...)
	w.retain() // counts the files again
}

// readSince reads back from the removed file open the whole lines
// written since the last check; ended is the error of ending its
// stream, if any.
func (w *writer) readSince(ended error) ([]byte, error) {
	var r io.Reader = io.NewSectionReader(w.f, w.checkedWritten, w.disk-w.checkedWritten)
	if w.gz != nil {
		// A gzip stream is read from its start.
		gz, err := gzip.NewReader(io.NewSectionReader(w.f, 0, w.disk))
		if err != nil {
			return nil, fmt.Errorf("capture: read back the removed file: %w", err)
		}
		if _, err := io.CopyN(io.Discard, gz, w.checkedWritten); err != nil {
			return nil, fmt.Errorf("capture: read back the removed file: %w", err)
		}
		r = gz
	}
	tail := make([]byte, w.written-w.checkedWritten)
	n, err := io.ReadFull(r, tail)
	tail = tail[:n]
	if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
		tail = tail[:i+1]
	} else {
		tail = nil
	}
	if err != nil {
		return tail, fmt.Errorf("capture: read back the removed file: %w", errors.Join(ended, err))
	}
	return tail, nil
}

// folderAttrs makes the folder again when it is gone, and says so, and
// whether the folder is still the one locked at the start.
func (w *writer) folderAttrs() []any {
	return w.folderAttrsOf(w.remakeFolder())
}

func (w *writer) folderAttrsOf(made bool, err error) []any {
	switch {
	case err != nil:
		return []any{"folder", "gone, and could not be made again: events are lost until it can be", "folder_err", err}
	case made:
		return []any{"folder", "gone: made again (0700); " + lockNote}
	case !w.s.lockedFolder():
		return []any{"folder", "not the one locked at the start (replaced, or made again): " + lockNote}
	}
	return nil
}

// remakeFolder makes the capture folder again, as New makes it, when it
// is gone.
func (w *writer) remakeFolder() (made bool, err error) {
	if _, err := os.Stat(w.s.opts.Dir); !errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.MkdirAll(w.s.opts.Dir, 0o700); err != nil {
		return false, fmt.Errorf("capture: make the folder again: %w", err)
	}
	return true, nil
}

// lockedFolder says whether the folder is the one locked at the start
// (true when it cannot tell).
func (s *Sink) lockedFolder() bool {
	info, err := os.Stat(s.opts.Dir)
	return s.folder == nil || err != nil || os.SameFile(info, s.folder)
}
