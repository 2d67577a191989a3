package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/riskgate/riskgate/engine/replay"
)

// File names: capture-<opening time, UTC>.jsonl[.gz], so that name order
// is time order and a file's age is in its name.
const (
	filePrefix = "capture-"
	nameTime   = "20060102T150405.000000Z"
)

// capFile is a finished capture file (or one a failed write abandoned in
// progress).
type capFile struct {
	path   string
	opened time.Time
	size   int64
}

// finished lists the finished capture files, oldest first: every file
// replay reads (replay.CaptureFiles), and so Forget searches, whether its
// name is the sink's (a time) or not (a file copied in from another node,
// capture-node2.jsonl). Those were left out, so retention never deleted
// them, nor counted them in riskgate_capture_files. Files in progress
// that the writer is not writing are listed too: a failed write
// abandoned them (a full disk), and they hold lines as much as any. The
// file being written is not (nor its finished name while it is being
// finished): the stats count it apart.
func (s *Sink) finished() ([]capFile, error) {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	cur := ""
	if p := s.current.Load(); p != nil {
		cur = filepath.Base(*p)
	}
	var out []capFile
	for _, e := range entries {
		name := e.Name()
		finishedName := strings.TrimSuffix(name, replay.InProgressSuffix)
		if e.IsDir() || !isCaptureFile(finishedName) || name == cur || finishedName+replay.InProgressSuffix == cur {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		path := filepath.Join(s.opts.Dir, name)
		stamp := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(finishedName, filePrefix), ".gz"), ".jsonl")
		opened, err := time.Parse(nameTime, stamp)
		if err != nil {
			opened = openedOf(path, info.ModTime())
		}
		out = append(out, capFile{path: path, opened: opened, size: info.Size()})
	}
	slices.SortFunc(out, func(a, b capFile) int { return a.opened.Compare(b.opened) })
	return out, nil
}

// openedOf is when a capture file whose name is not a time was opened, as
// retention counts a file's age: its header's created time (what the
// sink's own names hold), so that a file copied in keeps the age of its
// lines, however recently it was copied; but never later than the file's
// last modification, so that a header that says a later time (edited,
// another clock) cannot keep the file past the retention of its writing.
// A file without a readable header is as old as its modification time.
func openedOf(path string, modified time.Time) time.Time {
	h := firstHeader(path)
	if h == nil || h.Created.IsZero() || h.Created.After(modified) {
		return modified
	}
	return h.Created
}

// firstHeader is the header a capture file begins with (gzip or not, by
// its content, as replay reads it), or nil. It reads no more than the
// first few kilobytes: retention asks every minute.
func firstHeader(path string) *replay.Header {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 4<<10)
	var r io.Reader = br
	if magic, _ := br.Peek(2); replay.IsGzip(magic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil
		}
		defer zr.Close()
		r = zr
	}
	// A header is a line of some 150 bytes: a longer first line is none.
	line, err := bufio.NewReaderSize(r, 4<<10).ReadSlice('\n')
	if err != nil {
		return nil
	}
	return headerOf(line)
}

// applyRetention deletes what retention says must go.
func (s *Sink) applyRetention() {
	s.files.Lock()
	defer s.files.Unlock()
	s.retain()
}

// retain deletes files whose first line is older than the retention, then
// the oldest while the capture is over its size. The caller holds
// s.files.
func (s *Sink) retain() {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	files, err := s.finished()
	if err != nil {
		s.log.Error("capture: retention", "err", err)
		return
	}
	cutoff := s.opts.Now().Add(-s.opts.Retention)
	var total int64
	kept := files[:0]
	for _, f := range files {
		if f.opened.Before(cutoff) {
			if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Error("capture: retention: could not delete an expired file", "path", f.path, "err", err)
				total += f.size
				kept = append(kept, f)
			}
			continue
		}
		total += f.size
		kept = append(kept, f)
	}
	if limit := s.opts.MaxTotalBytes; limit > 0 {
		var deleted, freed int64
		for len(kept) > 0 && total > limit {
			if err := os.Remove(kept[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Error("capture: retention: could not delete a file over the size limit", "path", kept[0].path, "err", err)
				break
			}
			total -= kept[0].size
			deleted, freed = deleted+1, freed+kept[0].size
			kept = kept[1:]
		}
		if deleted > 0 {
			// Once a pass (a rotation, or a minute): the capture is
			// shorter than the retention, and so are the backtests.
			attrs := []any{"files", deleted, "bytes", freed, "limit", limit}
			if len(kept) > 0 {
				attrs = append(attrs, "oldest_kept", kept[0].opened.UTC())
			}
			s.log.Info("capture: oldest files deleted over the size limit", attrs...)
		}
	}
	s.nfiles.Store(int64(len(kept)))
	s.bytes.Store(total)
}

// recover finishes the files a crash left in progress.
func (s *Sink) recover() error {
	left, err := filepath.Glob(filepath.Join(s.opts.Dir, filePrefix+"*"+replay.InProgressSuffix))
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	for _, p := range left {
		if err := finish(p); err != nil {
			return err
		}
	}
	// Half-written rewrites (a crash during Forget or a recovery): the
	// files they would have replaced are still there.
	tmps, _ := filepath.Glob(filepath.Join(s.opts.Dir, filePrefix+"*.tmp"))
	for _, p := range tmps {
		os.Remove(p)
	}
	return nil
}

// finish turns an in-progress file into a finished one holding its whole
// lines: a crash (or a failed write) can leave half a line, or a gzip
// stream without its end.
func finish(inProgress string) error {
	final := strings.TrimSuffix(inProgress, replay.InProgressSuffix)
	var n int
	err := rewrite(inProgress, final, func([]byte) bool { n++; return true })
	if err != nil {
		return err
	}
	if n == 0 {
		os.Remove(final) // not even a header
	}
	return os.Remove(inProgress)
}

// eachLine calls fn with every whole line of the capture file src
// (decompressed). Reading stops quietly at a damaged end: a truncated gzip
// stream, or a last line without its newline, is what a crash leaves.
func eachLine(src string, fn func(line []byte) error) error {
	_, err := scanLines(src, fn)
	return err
}

// damage is the end of a capture file that a pass could not read as whole
// lines: what a crash mid-write or a full disk leaves, in a file that was
// not finished by recovery (copied in, damaged on disk).
type damage struct {
	// tail is a last line cut short: no newline, and not a whole JSON
	// object.
	tail []byte
	// at is where tail begins, and where the whole lines end: a byte
	// offset into the file's content (decompressed, when compressed).
	at int64
	// err says why the rest of a compressed file could not be read (a
	// gzip stream cut short or corrupt); its bytes cannot be searched.
	err error
	// compressed is set for a gzip file, whose offsets are of its
	// decompressed content.
	compressed bool
}

func (d damage) damaged() bool { return len(d.tail) > 0 || d.err != nil }

// unfinished says whether a damaged compressed stream is only cut short
// (what a file being written, flushed, or one abandoned mid-write holds),
// rather than corrupt before its end.
func (d damage) unfinished() bool {
	return d.err == nil || (d.compressed && errors.Is(d.err, io.ErrUnexpectedEOF))
}

// logAttrs say what is damaged, for a log line: where and how long the cut
// line is, and why the rest of a compressed stream could not be read, but
// never the bytes themselves (a user's key, in part). A plain file cut
// short has no error to tell: it logged "err=<nil>".
func (d damage) logAttrs() []any {
	var what []string
	var attrs []any
	content := "the file"
	if d.compressed {
		content = "the decompressed content"
	}
	if len(d.tail) > 0 {
		what = append(what, fmt.Sprintf("a last line cut short (%d bytes at byte %d of %s, without its newline, not a whole JSON object)", len(d.tail), d.at, content))
		attrs = append(attrs, "cut_line_offset", d.at, "cut_line_bytes", len(d.tail))
	}
	if d.err != nil {
		end := d.at + int64(len(d.tail))
		what = append(what, fmt.Sprintf("a compressed stream unreadable after byte %d of %s (%v)", end, content, d.err))
		attrs = append(attrs, "readable_bytes", end, "err", d.err)
	}
	return append([]any{"damage", strings.Join(what, "; ")}, attrs...)
}

// scanLines calls fn with every whole line of the capture file src
// (decompressed), and returns its damaged end, if any, which fn is not
// given. A last line without its newline that is a whole JSON object is a
// whole line (replay reads it): it is given to fn with the newline. An
// error reading the file itself is returned, not taken for damage.
//
// A file is gzip by its content (replay.IsGzip), not its name, as replay
// reads it: a file copied in under the other name is read whole by a
// backtest, so Forget must search it whole. By its name, a .jsonl holding
// gzip was searched as text (the user's key, compressed, never found) and
// a .jsonl.gz holding text taken for a damaged stream and deleted.
func scanLines(src string, fn func(line []byte) error) (damage, error) {
	return scanPrefix(src, -1, fn)
}

// scanPrefix is scanLines over the first size bytes of src (all of it
// when size is negative): the part of the file being written that a
// flush completed, which the writer no longer changes.
func scanPrefix(src string, size int64, fn func(line []byte) error) (damage, error) {
	in, err := os.Open(src)
	if err != nil {
		return damage{}, fmt.Errorf("capture: %w", err)
	}
	defer in.Close()
	fr := &fileReader{r: in}
	if size >= 0 {
		fr.r = io.LimitReader(in, size)
	}
	head := bufio.NewReaderSize(fr, 256<<10)
	var r io.Reader = head
	magic, _ := head.Peek(2)
	if fr.err != nil {
		return damage{}, fmt.Errorf("capture: %w", fr.err)
	}
	compressed := replay.IsGzip(magic)
	if compressed {
		zr, err := gzip.NewReader(head)
		if fr.err != nil {
			return damage{}, fmt.Errorf("capture: %w", fr.err)
		}
		if err != nil {
			return damage{err: err, compressed: true}, nil // not even a whole gzip header
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var long []byte
	var at int64 // where the next line begins
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer (a rules record): gather it.
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err == nil {
			at += int64(len(line))
			if err := fn(line); err != nil {
				return damage{}, err
			}
			continue
		}
		if fr.err != nil {
			return damage{}, fmt.Errorf("capture: %w", fr.err)
		}
		d := damage{at: at, compressed: compressed}
		if err != io.EOF {
			d.err = err
		}
		if len(line) > 0 {
			if line[0] == '{' && json.Valid(line) {
				if err := fn(append(line, '\n')); err != nil {
					return damage{}, err
				}
			} else {
				d.tail = bytes.Clone(line)
			}
		}
		return d, nil
	}
}

// fileReader keeps the error of a failed read, so that scanLines can tell
// a file it cannot read (an I/O error: retry later) from a damaged one.
type fileReader struct {
	r   io.Reader
	err error
}

func (r *fileReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// rewrite copies the whole lines of src that keep accepts to dst (gzip if
// dst's name says so), through a temporary file renamed into place. A
// file whose content belied its name is rewritten as its name says:
// replay reads either.
func rewrite(src, dst string, keep func(line []byte) bool) error {
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	var w io.Writer = out
	var zw *gzip.Writer
	if strings.HasSuffix(dst, ".gz") {
		zw = gzip.NewWriter(out)
		w = zw
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	err = eachLine(src, func(line []byte) error {
		if !keep(line) {
			return nil
		}
		_, err := bw.Write(line)
		return err
	})
	err = errors.Join(err, bw.Flush())
	if zw != nil {
		err = errors.Join(err, zw.Close())
	}
	err = errors.Join(err, out.Sync(), out.Close())
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err == nil {
		// The rename itself survives a power cut: an erasure reported
		// done does not come back with the file it replaced.
		err = syncDir(filepath.Dir(dst))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
