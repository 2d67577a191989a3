package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
)

// writer is the Sink's one goroutine: it keys, encodes and writes events,
// rotates files and applies retention.
type writer struct {
	s *Sink
	k *keyer

	f       *os.File
	gz      *gzip.Writer
	bw      *bufio.Writer
	enc     *json.Encoder
	path    string // the finished name; the file is path+InProgressSuffix until rotated
	opened  time.Time
	written int64  // bytes of lines (uncompressed)
	disk    int64  // bytes handed to the file (compressed, when compressed)
	rules   string // version of the last rules record in this file

	reportedDrops uint64
	lastErrLog    time.Time
}

func (w *writer) run(hold <-chan struct{}) {
	defer close(w.s.done)
	if hold != nil {
		<-hold // tests: a writer that has not started yet
	}
	flush := time.NewTicker(w.s.opts.FlushInterval)
	defer flush.Stop()
	retention := time.NewTicker(time.Minute)
	defer retention.Stop()
	for {
		select {
		case ev := <-w.s.queue:
			w.write(&ev)
		case <-flush.C:
			w.flush()
			if w.f != nil && w.s.opts.Now().Sub(w.opened) >= w.s.opts.MaxFileAge {
				w.rotate()
			}
		case <-retention.C:
			// A Forget in progress holds the files; retention waits for
			// the next round rather than stall the writer.
			if w.s.files.TryLock() {
				w.s.retain()
				w.s.files.Unlock()
			}
		case req := <-w.s.control:
			w.drain()
			req.reply <- w.serve(&req)
		case <-w.s.stop:
			w.drain()
			w.rotate()
			return
		}
	}
}

// drain writes every event queued so far.
func (w *writer) drain() {
	for {
		select {
		case ev := <-w.s.queue:
			w.write(&ev)
		default:
			return
		}
	}
}

func (w *writer) write(ev *event) {
	if w.f == nil {
		if err := w.open(); err != nil {
			w.failed(err)
			return
		}
	}
	if d := w.s.dropped.Load(); d > w.reportedDrops {
		gap := struct {
			Gap replay.Gap `json:"gap"`
		}{replay.Gap{Dropped: d - w.reportedDrops, Time: w.s.opts.Now().UTC()}}
		if !w.encode(&gap) {
			return
		}
		w.reportedDrops = d
	}
	if ev.outcome {
		line := struct {
			Outcome *replay.Outcome `json:"outcome"`
		}{w.k.outcomeLine(ev)}
		if w.encode(&line) {
			w.s.outcomes.Add(1)
		}
	} else {
		// A tenant's version (shared + overlay) shares the shared set's
		// record: overlays are not recorded, and interleaved tenants
		// must not write the shared files again at every switch.
		if shared, _ := rules.SplitVersion(ev.rulesVersion); shared != w.rules {
			if !w.encode(w.rulesRecord(shared)) {
				return
			}
			w.rules = shared
		}
		line := w.k.attemptLine(ev)
		if w.encode(&line) {
			w.s.attempts.Add(1)
		}
	}
	if w.f != nil && w.written >= w.s.opts.MaxFileBytes {
		w.rotate()
	}
}

func (w *writer) rulesRecord(version string) any {
	rec := replay.RulesRecord{Version: version}
	if w.s.opts.Rules != nil {
		size := 0
		for _, src := range w.s.opts.Rules(version) {
			size += len(src.Data)
			rec.Files = append(rec.Files, replay.RulesFile{Name: src.Name, Data: string(src.Data)})
		}
		if size > maxRulesRecord {
			rec.Files = nil
		}
	}
	return &struct {
		Rules *replay.RulesRecord `json:"rules"`
	}{&rec}
}

// encode writes one line; false when the file failed (and was closed).
func (w *writer) encode(v any) bool {
	if err := w.enc.Encode(v); err != nil {
		w.failed(err)
		return false
	}
	return true
}

// open starts a new file: its name is its opening time, so that name
// order is time order, and it carries the in-progress suffix until it is
// finished.
func (w *writer) open() error {
	now := w.s.opts.Now().UTC()
	for {
		name := filePrefix + now.Format(nameTime) + ".jsonl"
		if w.s.opts.Compress {
			name += ".gz"
		}
		path := filepath.Join(w.s.opts.Dir, name)
		if _, err := os.Lstat(path); err == nil {
			// A file opened in the same microsecond (or a clock that went
			// back): the next name.
			now = now.Add(time.Microsecond)
			continue
		}
		f, err := os.OpenFile(path+replay.InProgressSuffix, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			now = now.Add(time.Microsecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		w.f, w.path, w.opened, w.written, w.disk, w.rules = f, path, now, 0, 0, ""
		break
	}
	w.s.curFiles.Store(1)
	w.s.curBytes.Store(0)
	var out io.Writer = &countingWriter{w: w.f, n: &w.disk}
	if w.s.opts.Compress {
		w.gz = gzip.NewWriter(out)
		out = w.gz
	}
	w.bw = bufio.NewWriterSize(out, 64<<10)
	w.enc = json.NewEncoder(&countingWriter{w: w.bw, n: &w.written})
	w.enc.SetEscapeHTML(false)
	header := struct {
		Capture replay.Header `json:"capture"`
	}{replay.Header{Format: replay.CaptureFormat, Created: now, KeyID: w.s.keyID, Retention: w.s.opts.Retention.String()}}
	if err := w.enc.Encode(&header); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

func (w *writer) flush() {
	if w.f == nil {
		return
	}
	err := w.bw.Flush()
	if err == nil && w.gz != nil {
		err = w.gz.Flush()
	}
	if err != nil {
		w.failed(err)
		return
	}
	w.s.curBytes.Store(w.disk)
}

// rotate finishes the current file: flushed, synced, renamed to its
// final name.
func (w *writer) rotate() {
	if w.f == nil {
		return
	}
	err := w.bw.Flush()
	if w.gz != nil {
		err = errors.Join(err, w.gz.Close())
	}
	err = errors.Join(err, w.f.Sync(), w.f.Close())
	if err == nil {
		err = os.Rename(w.path+replay.InProgressSuffix, w.path)
	}
	w.f, w.gz, w.bw, w.enc = nil, nil, nil, nil
	w.s.curFiles.Store(0)
	w.s.curBytes.Store(0)
	if err != nil {
		w.failed(err)
		return
	}
	if w.s.files.TryLock() {
		w.s.retain()
		w.s.files.Unlock()
	} else {
		// A Forget holds the files, and counts them again when it is
		// done: until then, the file is counted among the finished.
		w.s.nfiles.Add(1)
		w.s.bytes.Add(w.disk)
	}
}

// failed counts a write error and abandons the file: what it holds up to
// its last whole line is kept (as after a crash), and the next event
// opens a new one.
func (w *writer) failed(err error) {
	w.s.writeErrors.Add(1)
	if now := time.Now(); now.Sub(w.lastErrLog) > 10*time.Second {
		w.lastErrLog = now
		w.s.log.Error("capture: write failed; events are lost until a file can be written", "dir", w.s.opts.Dir, "err", err)
	}
	if w.f != nil {
		w.f.Close()
		w.f, w.gz, w.bw, w.enc = nil, nil, nil, nil
		w.s.curFiles.Store(0)
		w.s.curBytes.Store(0)
		if err := finish(w.path + replay.InProgressSuffix); err != nil {
			w.s.log.Error("capture: could not finish a failed file", "path", w.path, "err", err)
		}
		if w.s.files.TryLock() {
			w.s.retain()
			w.s.files.Unlock()
		}
	}
}

type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// control is a request to the writer, served after it has written every
// event queued before it.
type control struct {
	op    controlOp
	m     *userMatcher // opForget: whose lines to erase
	path  string       // opForget: the file being written, as opFlush named it
	reply chan controlReply
}

type controlOp int

const (
	// opFinish finishes the file being written (Finish).
	opFinish controlOp = iota
	// opFlush flushes the file being written and names it, with its
	// size: its first size bytes hold whole lines, and no longer change.
	opFlush
	// opForget rewrites the file being written without a user's lines,
	// under the same name, and goes on writing it.
	opForget
)

type controlReply struct {
	path string // the file being written (with its in-progress suffix); "" when none
	size int64  // its bytes on disk, all whole lines
	n    int    // lines erased
	err  error
}

func (w *writer) serve(req *control) controlReply {
	switch req.op {
	case opFlush:
		w.flush()
		if w.f == nil {
			return controlReply{}
		}
		return controlReply{path: w.path + replay.InProgressSuffix, size: w.disk}
	case opForget:
		if w.f == nil || w.path+replay.InProgressSuffix != req.path {
			// Finished since (rotated, or failed): Forget searches it
			// among the finished files.
			return controlReply{}
		}
		n, err := w.forget(req.m)
		return controlReply{n: n, err: err}
	default:
		w.rotate()
		return controlReply{}
	}
}

// forget rewrites the file being written without the lines m matches,
// under the same name, and goes on writing the rewritten file: an erasure
// neither finishes it nor starts another (each new file carries its own
// header and rules records). The lines kept go to a temporary file,
// synced, then renamed over the file being written: a crash before the
// rename leaves the file as it was (recovery finishes it, and deletes the
// temporary file), one after it leaves the rewritten file; no other
// user's line is lost either way, and the writer writes no event
// meanwhile (events wait in the queue). If the rewrite fails, the file
// is left as it was, and written on.
func (w *writer) forget(m *userMatcher) (int, error) {
	w.flush()
	if w.f == nil {
		return 0, nil // failed, and so finished: Forget searches it with the others
	}
	cur := w.path + replay.InProgressSuffix
	tmp := cur + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("capture: forget: %w", err)
	}
	var disk, written int64
	dw := &countingWriter{w: f, n: &disk}
	var out io.Writer = dw
	var gz *gzip.Writer
	if w.s.opts.Compress {
		gz = gzip.NewWriter(dw)
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	lw := &countingWriter{w: bw, n: &written}
	n := 0
	// The file is flushed: its whole lines are all there (a compressed
	// one has no end yet, which is no damage).
	dmg, err := scanLines(cur, func(line []byte) error {
		if m.match(line) {
			n++
			return nil
		}
		_, err := lw.Write(line)
		return err
	})
	if len(dmg.tail) > 0 {
		// Not what the writer leaves after a flush; dropped, as Forget
		// drops a finished file's damaged end.
		if m.matchCut(dmg.tail) {
			n++
		}
		w.s.log.Warn("capture: forget: dropped the damaged end of the capture file being written", append([]any{"path", cur}, dmg.logAttrs()...)...)
	}
	err = errors.Join(err, bw.Flush())
	if gz != nil {
		err = errors.Join(err, gz.Flush())
	}
	err = errors.Join(err, f.Sync())
	if err == nil {
		err = os.Rename(tmp, cur)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("capture: forget: %w", err)
	}
	if err := syncDir(w.s.opts.Dir); err != nil {
		w.s.log.Warn("capture: forget: could not sync the folder after a rewrite", "dir", w.s.opts.Dir, "err", err)
	}
	// The file replaced is gone: its compressed stream needs no end.
	w.f.Close()
	dw.n, lw.n = &w.disk, &w.written
	w.f, w.gz, w.bw, w.disk, w.written = f, gz, bw, disk, written
	w.enc = json.NewEncoder(lw)
	w.enc.SetEscapeHTML(false)
	w.s.curBytes.Store(w.disk)
	return n, nil
}
