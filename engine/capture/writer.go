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
	"strings"
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

	// The last check that the folder still holds the file (follow.go):
	// when, the bytes of lines written then and the rules record in force
	// then, and the lines written since.
	checked        time.Time
	checkedWritten int64
	checkedRules   string
	linesSince     int

	reportedDrops uint64
	lastErrLog    time.Time
}

func (w *writer) run(hold <-chan struct{}) {
	defer close(w.s.done)
	defer w.s.unlock() // before done: a sink closed frees its folder
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
	w.follow(false)
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
	w.linesSince++
	return true
}

// open starts a new file: its name is its opening time, so that name
// order is time order, and it carries the in-progress suffix until it is
// finished.
func (w *writer) open() error {
	now := w.s.opts.Now().UTC()
	remade := false
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
		// Named the file being written before it exists: retention and
		// Forget never take it for one a failed write abandoned.
		inProgress := path + replay.InProgressSuffix
		w.s.current.Store(&inProgress)
		// Read as well as written: the lines written to it after it was
		// removed are read back (follow.go).
		f, err := os.OpenFile(inProgress, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if errors.Is(err, os.ErrExist) {
			now = now.Add(time.Microsecond)
			continue
		}
		if errors.Is(err, os.ErrNotExist) && !remade {
			// The folder removed (or moved) while no file was open.
			remade = true
			// Made again, it is counted and logged as the loss of a file
			// being written is; not made, the write fails below.
			if made, _ := w.remakeFolder(); made {
				w.s.writeErrors.Add(1)
				w.s.log.Error("capture: the capture folder was removed or moved away; capture goes on in a new file", append([]any{"dir", w.s.opts.Dir}, w.folderAttrsOf(true, nil)...)...)
				continue
			}
		}
		if err != nil {
			w.s.current.Store(nil)
			return fmt.Errorf("capture: %w", err)
		}
		w.f, w.path, w.opened, w.written, w.disk, w.rules = f, path, now, 0, 0, ""
		break
	}
	w.s.curFiles.Store(1)
	w.s.curBytes.Store(0)
	var out io.Writer = &countingWriter{w: fileWriter{s: w.s, f: w.f}, n: &w.disk}
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
	w.checked = w.s.opts.Now()
	w.checkpoint()
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
	w.follow(true)
	if w.f == nil {
		return
	}
	err := w.bw.Flush()
	if w.gz != nil {
		err = errors.Join(err, w.gz.Close())
	}
	err = errors.Join(err, w.f.Sync(), w.f.Close())
	w.f, w.gz, w.bw, w.enc = nil, nil, nil, nil
	if err == nil {
		// The rename and the counters move together, as retention
		// counts the files: the file is counted once, among the
		// finished (a Forget may hold the files, and retention wait).
		w.s.countMu.Lock()
		err = os.Rename(w.path+replay.InProgressSuffix, w.path)
		if err == nil {
			w.s.fileDone(1, w.disk)
		}
		w.s.countMu.Unlock()
	}
	if err != nil {
		w.failed(err)
		return
	}
	w.retain()
}

// retain applies retention, unless a Forget holds the files: it applies
// it when it is done.
func (w *writer) retain() {
	if w.s.files.TryLock() {
		w.s.retain()
		w.s.files.Unlock()
	}
}

// failed counts a write error and abandons the file: what it holds up to
// its last whole line is kept (as after a crash), and the next event
// opens a new one. When it cannot be finished either (a full disk: a copy
// needs room), it is left in progress, abandoned: Forget searches it, and
// finishes it when it holds the user; retention and the stats count it;
// a restart finishes it.
func (w *writer) failed(err error) {
	w.s.writeErrors.Add(1)
	if now := time.Now(); now.Sub(w.lastErrLog) > 10*time.Second {
		w.lastErrLog = now
		w.s.log.Error("capture: write failed; events are lost until a file can be written", "dir", w.s.opts.Dir, "err", err)
	}
	if w.f != nil {
		w.f.Close()
		w.f, w.gz, w.bw, w.enc = nil, nil, nil, nil
	}
	cur := w.s.current.Load()
	if cur == nil {
		return // no file was opened
	}
	// Still the file being written while it is finished: counted once,
	// as the file being written (retention and Forget leave it alone).
	final := strings.TrimSuffix(*cur, replay.InProgressSuffix)
	err = w.s.hookRewrite(*cur)
	if err == nil {
		err = finish(*cur)
	}
	if err != nil {
		w.s.log.Error("capture: could not finish a failed file; it is left in progress, until Forget or a restart finishes it", "path", *cur, "err", err)
	}
	w.s.countMu.Lock()
	w.s.fileDone(0, 0)
	for _, p := range []string{*cur, final} { // either, or both if a removal failed
		if info, err := os.Stat(p); err == nil {
			w.s.nfiles.Add(1)
			w.s.bytes.Add(info.Size())
		}
	}
	w.s.countMu.Unlock()
	w.retain()
}

// fileWriter writes to the file being written, through the tests' fault
// hook.
type fileWriter struct {
	s *Sink
	f *os.File
}

func (w fileWriter) Write(p []byte) (int, error) {
	if err := w.s.hookWrite(); err != nil {
		return 0, err
	}
	return w.f.Write(p)
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
	path  string // opFinish: finish only this file (as opFlush named it); "": the file being written, whichever
	reply chan controlReply
}

type controlOp int

const (
	// opFinish finishes the file being written (Finish, and Forget when
	// the user is there).
	opFinish controlOp = iota
	// opFlush flushes the file being written and names it, with its
	// size: its first size bytes hold whole lines, and no longer change.
	opFlush
)

type controlReply struct {
	path string // the file being written (with its in-progress suffix); "" when none
	size int64  // its bytes on disk, all whole lines
	err  error
}

func (w *writer) serve(req *control) controlReply {
	// A Forget must find the lines a removed file's copy would bring.
	w.follow(true)
	switch req.op {
	case opFlush:
		w.flush()
		if w.f == nil {
			return controlReply{}
		}
		return controlReply{path: w.path + replay.InProgressSuffix, size: w.disk}
	default:
		if req.path != "" && (w.f == nil || w.path+replay.InProgressSuffix != req.path) {
			// Finished since (rotated, or abandoned by a failed write):
			// Forget searches it among the others.
			return controlReply{}
		}
		w.rotate()
		return controlReply{}
	}
}
