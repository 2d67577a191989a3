package breached

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// The scan pipeline: one reader goroutine reads (and gunzips) the inputs in
// 1 MiB chunks cut at line ends and numbers their lines; worker goroutines
// parse the lines and hand each accepted hash to a visit function. Line
// counting is a SIMD bytes.Count in the reader, so workers can take chunks in
// any order and still report exact line numbers.

const chunkSize = 1 << 20

type chunk struct {
	file   int
	line   uint64 // number of the first line in buf, from 1
	buf    []byte // whole lines, within base
	base   []byte // the pooled buffer, returned when done
	format Format
}

// visitFunc receives one accepted hash in worker w. It must be safe to call
// from several workers at once for different w.
type visitFunc func(w int, sum [20]byte, count uint64)

// scanStats are the per-worker counters, padded against false sharing.
type scanStats struct {
	lines, accepted, belowMin, empty, malformed atomic.Uint64
	_                                           [24]byte
}

type scanner struct {
	inputs     []Input
	formats    []Format // resolved per input by the reader
	workers    int
	minCount   uint64
	plainCount uint64
	maxReport  int

	bytesRead  atomic.Int64
	bytesTotal int64
	stats      []scanStats

	mu       sync.Mutex  // guards reported and phase
	reported []LineError // the lowest (file, line) malformed lines, at most maxReport
	phase    string
}

// LineError is a malformed input line. It names the place and the reason,
// never the line's content (which may be a password).
type LineError struct {
	File   string
	Line   uint64
	Reason string
	file   int
}

func (e LineError) String() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

func (s *scanner) report(file int, line uint64, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := LineError{File: s.inputs[file].Path, Line: line, Reason: reason, file: file}
	less := func(a, b LineError) int {
		if a.file != b.file {
			return a.file - b.file
		}
		return cmp.Compare(a.Line, b.Line)
	}
	if len(s.reported) < s.maxReport {
		s.reported = append(s.reported, e)
		slices.SortFunc(s.reported, less)
		return
	}
	if s.maxReport > 0 && less(e, s.reported[len(s.reported)-1]) < 0 {
		s.reported[len(s.reported)-1] = e
		slices.SortFunc(s.reported, less)
	}
}

func (s *scanner) totals() (t struct{ lines, accepted, belowMin, empty, malformed uint64 }) {
	for i := range s.stats {
		st := &s.stats[i]
		t.lines += st.lines.Load()
		t.accepted += st.accepted.Load()
		t.belowMin += st.belowMin.Load()
		t.empty += st.empty.Load()
		t.malformed += st.malformed.Load()
	}
	return t
}

// run reads every input once, calling visit for each accepted hash.
func (s *scanner) run(ctx context.Context, visit visitFunc) error {
	for i := range s.stats {
		st := &s.stats[i]
		st.lines.Store(0)
		st.accepted.Store(0)
		st.belowMin.Store(0)
		st.empty.Store(0)
		st.malformed.Store(0)
	}
	s.bytesRead.Store(0)
	s.mu.Lock()
	s.reported = s.reported[:0]
	s.mu.Unlock()
	work := make(chan chunk, s.workers*2)
	free := make(chan []byte, s.workers*2+2)
	for range cap(free) {
		free <- make([]byte, chunkSize)
	}
	var wg sync.WaitGroup
	for w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				s.parseChunk(w, c, visit)
				free <- c.base
			}
		}()
	}
	err := s.read(ctx, work, free)
	close(work)
	wg.Wait()
	return err
}

func (s *scanner) parseChunk(w int, c chunk, visit visitFunc) {
	st := &s.stats[w]
	var lines, accepted, belowMin, empty, malformed uint64
	buf, line := c.buf, c.line
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			i = len(buf) // last line of the file without '\n'
		}
		l := buf[:i]
		buf = buf[min(i+1, len(buf)):]
		lines++
		var sum [20]byte
		count := s.plainCount
		if c.format == FormatHIBP {
			var reason string
			if sum, count, reason = parseHIBP(l); reason != reasonOK {
				if len(l) == 0 || (len(l) == 1 && l[0] == '\r') {
					empty++
				} else {
					malformed++
					s.report(c.file, line, reason)
				}
				line++
				continue
			}
		} else {
			var ok bool
			if sum, ok = hashPlain(l); !ok {
				empty++
				line++
				continue
			}
		}
		line++
		if count < s.minCount {
			belowMin++
			continue
		}
		accepted++
		visit(w, sum, count)
	}
	st.lines.Add(lines)
	st.accepted.Add(accepted)
	st.belowMin.Add(belowMin)
	st.empty.Add(empty)
	st.malformed.Add(malformed)
}

// countingReader counts the raw (compressed) bytes read, for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// openInput opens one input, transparently gunzipping it when it starts with
// the gzip magic bytes (the name is not trusted).
func openInput(path string, counter *atomic.Int64, bufSize int) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = f
	if counter != nil {
		r = countingReader{f, counter}
	}
	br := bufio.NewReaderSize(r, bufSize)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, f.Close, nil
	}
	return br, f.Close, nil
}

func (s *scanner) read(ctx context.Context, work chan<- chunk, free chan []byte) error {
	for i, in := range s.inputs {
		if err := s.readFile(ctx, i, in, work, free); err != nil {
			return fmt.Errorf("read %s: %w", in.Path, err)
		}
	}
	return nil
}

func (s *scanner) readFile(ctx context.Context, idx int, in Input, work chan<- chunk, free chan []byte) error {
	r, closeFn, err := openInput(in.Path, &s.bytesRead, 256<<10)
	if err != nil {
		return err
	}
	defer closeFn()
	line := uint64(1)
	carry := 0        // bytes of an unfinished line at the start of buf
	skipping := false // inside an over-long line, dropping bytes up to its '\n'
	first := true
	buf := <-free
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(r, buf[carry:])
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return err
		}
		data := buf[:carry+n]
		if first {
			data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM
			if s.formats[idx] == FormatAuto {
				s.formats[idx] = detectFormat(data, eof)
			}
			first = false
		}
		if skipping {
			j := bytes.IndexByte(data, '\n')
			if j < 0 {
				carry = 0
				if eof {
					return nil
				}
				continue
			}
			data, skipping = data[j+1:], false
			line++
		}
		cut := len(data)
		if !eof {
			cut = bytes.LastIndexByte(data, '\n') + 1
			if cut == 0 {
				// A whole chunk without a line end: report it once and
				// drop it, rather than buffering without bound.
				s.stats[0].lines.Add(1)
				s.stats[0].malformed.Add(1)
				s.report(idx, line, reasonTooLong)
				skipping, carry = true, 0
				continue
			}
		}
		next := <-free
		carry = copy(next, data[cut:])
		c := chunk{file: idx, line: line, buf: data[:cut], base: buf, format: s.formats[idx]}
		line += uint64(bytes.Count(c.buf, []byte{'\n'}))
		if len(c.buf) > 0 {
			work <- c
		} else {
			free <- buf
		}
		buf = next
		if eof {
			free <- buf
			return nil
		}
	}
}

// estimateLines guesses the number of lines in the inputs from their sizes
// and the line density of their first MiB (after gunzip, when compressed).
func estimateLines(inputs []Input) (lines uint64, bytesTotal int64, err error) {
	for _, in := range inputs {
		st, err := os.Stat(in.Path)
		if err != nil {
			return 0, 0, fmt.Errorf("stat %s: %w", in.Path, err)
		}
		bytesTotal += st.Size()
		var raw atomic.Int64
		// A small read buffer keeps read-ahead from inflating the raw
		// byte count below, which would underestimate the density.
		r, closeFn, err := openInput(in.Path, &raw, 16)
		if err != nil {
			return 0, 0, fmt.Errorf("read %s: %w", in.Path, err)
		}
		sample := make([]byte, chunkSize)
		n, rerr := io.ReadFull(r, sample)
		closeFn()
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return 0, 0, fmt.Errorf("read %s: %w", in.Path, rerr)
		}
		if n == 0 {
			continue
		}
		nl := uint64(bytes.Count(sample[:n], []byte{'\n'})) + 1
		if n < chunkSize {
			lines += nl // the whole file was sampled
			continue
		}
		// flate still reads a little ahead, and later lines may be
		// shorter: add 3%, since undersizing a Bloom filter raises its
		// false-positive rate while oversizing only costs space.
		perRaw := float64(nl) / float64(min(raw.Load(), st.Size()))
		lines += uint64(perRaw*float64(st.Size())*1.03) + 1
	}
	return lines, bytesTotal, nil
}
