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

	"github.com/riskgate/riskgate/internal/excerpt"
)

// The scan pipeline: reader goroutines read (and gunzip) the files in
// 1 MiB chunks cut at line ends and number their lines; worker goroutines
// parse the lines and hand each accepted hash to a visit function. Line
// counting is a SIMD bytes.Count in the reader, so workers can take chunks in
// any order and still report exact line numbers. One reader serves a single
// file; several share the files of a folder (a Have I Been Pwned download is
// a million small files, and opening them is most of the reader's work).

const chunkSize = 1 << 20

type chunk struct {
	src    int
	line   uint64 // number of the first line in buf, from 1
	buf    []byte // whole lines, within base
	base   []byte // the pooled buffer, returned when done
	format Format
	prefix uint32 // range files: the prefix from the file name
}

// visitFunc receives one accepted hash in worker w. It must be safe to call
// from several workers at once for different w.
type visitFunc func(w int, sum [20]byte, count uint64)

// scanStats are the per-worker counters, padded against false sharing.
type scanStats struct {
	lines, accepted, belowMin, empty, malformed atomic.Uint64
	_                                           [24]byte
}

// sourceStats are one file's counters, for the malformed-line limit.
type sourceStats struct {
	nonEmpty, malformed atomic.Uint64
	pending             atomic.Int32 // chunks in flight, plus one while its reader reads
}

type scanner struct {
	sources    []source
	formats    []Format // resolved per source by its reader
	workers    int
	minCount   uint64
	plainCount uint64
	maxReport  int
	maxBad     float64 // largest share of malformed lines in one file

	bytesRead  atomic.Int64
	bytesTotal int64
	stats      []scanStats
	srcStats   []sourceStats
	abort      atomic.Pointer[error] // the first fatal error: readers stop

	mu       sync.Mutex  // guards reported, firstBad and phase
	reported []LineError // the lowest (file, line) malformed lines, at most maxReport
	firstBad map[int]LineError
	phase    string
}

// LineError is a malformed input line. It names the place and the reason,
// never the line's content (which may be a password).
type LineError struct {
	File   string
	Line   uint64
	Reason string
	src    int
}

func (e LineError) String() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

func (s *scanner) report(src int, line uint64, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := LineError{File: s.sources[src].path, Line: line, Reason: reason, src: src}
	if f, ok := s.firstBad[src]; !ok || line < f.Line {
		s.firstBad[src] = e
	}
	less := func(a, b LineError) int {
		if a.src != b.src {
			return a.src - b.src
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

// fail records the first fatal error; the readers stop at their next chunk.
func (s *scanner) fail(err error) { s.abort.CompareAndSwap(nil, &err) }

func (s *scanner) failed() error {
	if p := s.abort.Load(); p != nil {
		return *p
	}
	return nil
}

// checkShare fails the build when too many of a file's lines are malformed.
// complete says every line of the file was parsed; otherwise only a large
// sample (a million lines) is judged, so that a huge damaged dump fails
// early.
func (s *scanner) checkShare(src int, complete bool) {
	st := &s.srcStats[src]
	bad, n := st.malformed.Load(), st.nonEmpty.Load()
	if bad == 0 || float64(bad) <= s.maxBad*float64(n) || (!complete && n < 1<<20) {
		return
	}
	s.mu.Lock()
	first := s.firstBad[src]
	s.mu.Unlock()
	what := "lines"
	if !complete {
		what = "lines read so far"
	}
	s.fail(fmt.Errorf("%w: %s: %d of %d %s are malformed, more than the %g%% allowed (--max-malformed); the first is line %d: %s",
		ErrMalformed, s.sources[src].path, bad, n, what, 100*s.maxBad, first.Line, first.Reason))
}

// ErrMalformed marks a build refused for malformed input lines.
var ErrMalformed = errors.New("too many malformed lines")

// release drops one hold on a file; the last one judges it whole.
func (s *scanner) release(src int) {
	if s.srcStats[src].pending.Add(-1) == 0 {
		s.checkShare(src, true)
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
	s.srcStats = make([]sourceStats, len(s.sources))
	s.bytesRead.Store(0)
	s.mu.Lock()
	s.reported = s.reported[:0]
	s.firstBad = map[int]LineError{}
	s.mu.Unlock()
	readers := 1
	if len(s.sources) > 1 {
		readers = min(4, max(2, s.workers))
	}
	work := make(chan chunk, s.workers*2)
	free := make(chan []byte, s.workers*2+readers*2)
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
				s.release(c.src)
			}
		}()
	}
	var next atomic.Int64
	var rg sync.WaitGroup
	for range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			br := bufio.NewReaderSize(nil, 256<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(s.sources) || s.failed() != nil {
					return
				}
				if err := ctx.Err(); err != nil {
					s.fail(err)
					return
				}
				if err := s.readFile(ctx, i, br, work, free); err != nil {
					s.fail(fmt.Errorf("read %s: %w", s.sources[i].path, err))
					return
				}
			}
		}()
	}
	rg.Wait()
	close(work)
	wg.Wait()
	return s.failed()
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
		if c.format == FormatHIBP || c.format == FormatHIBPRange {
			var reason string
			if c.format == FormatHIBP {
				sum, count, reason = parseHIBP(l)
			} else {
				sum, count, reason = parseHIBPRange(c.prefix, l)
			}
			if reason != reasonOK {
				if len(l) == 0 || (len(l) == 1 && l[0] == '\r') {
					empty++
				} else {
					malformed++
					if excerpt.BinaryBytes(l) {
						reason = reasonBinary
					}
					s.report(c.src, line, reason)
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
	ss := &s.srcStats[c.src]
	ss.nonEmpty.Add(lines - empty)
	if malformed > 0 {
		ss.malformed.Add(malformed)
		s.checkShare(c.src, false)
	}
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
// the gzip magic bytes (the name is not trusted). br is reset to read it.
func openInput(path string, counter *atomic.Int64, br *bufio.Reader) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = f
	if counter != nil {
		r = countingReader{f, counter}
	}
	br.Reset(r)
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

func (s *scanner) readFile(ctx context.Context, idx int, br *bufio.Reader, work chan<- chunk, free chan []byte) error {
	src := &s.sources[idx]
	hold := &s.srcStats[idx]
	hold.pending.Add(1)
	defer s.release(idx)
	if src.format == FormatHIBPRange && src.size < chunkSize {
		// A downloader range file: plain text, small, and a million of
		// them. Read it whole in one go; the general path below handles
		// anything unexpected.
		buf := <-free
		n, ok, err := readSmall(src.path, buf, src.size)
		if err != nil {
			free <- buf
			return err
		}
		if ok {
			s.bytesRead.Add(int64(n))
			data := buf[:n]
			if s.formats[idx], err = sniff(data, true, src.format, true); err != nil {
				free <- buf
				return err
			}
			if len(data) == 0 {
				free <- buf
				return nil
			}
			hold.pending.Add(1)
			work <- chunk{src: idx, line: 1, buf: data, base: buf, format: s.formats[idx], prefix: uint32(src.prefix)}
			return nil
		}
		free <- buf
	}
	r, closeFn, err := openInput(src.path, &s.bytesRead, br)
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
			free <- buf
			return err
		}
		if s.failed() != nil {
			free <- buf
			return nil
		}
		n, err := io.ReadFull(r, buf[carry:])
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			free <- buf
			return err
		}
		data := buf[:carry+n]
		if first {
			data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM
			f, err := sniff(data, eof, src.format, src.prefix >= 0)
			if err != nil {
				free <- buf
				return err
			}
			s.formats[idx] = f
			first = false
		}
		if skipping {
			j := bytes.IndexByte(data, '\n')
			if j < 0 {
				carry = 0
				if eof {
					free <- buf
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
				hold.nonEmpty.Add(1)
				hold.malformed.Add(1)
				s.report(idx, line, reasonTooLong)
				skipping, carry = true, 0
				continue
			}
		}
		next := <-free
		carry = copy(next, data[cut:])
		c := chunk{src: idx, line: line, buf: data[:cut], base: buf, format: s.formats[idx], prefix: uint32(max(src.prefix, 0))}
		line += uint64(bytes.Count(c.buf, []byte{'\n'}))
		if len(c.buf) > 0 {
			hold.pending.Add(1)
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

// estimateLines guesses the number of lines in the files from their sizes
// and the line density of samples: the first MiB of each file (after gunzip,
// when compressed), or, for many files (a downloader folder), of 64 files
// spread across them.
func estimateLines(sources []source) (lines uint64, bytesTotal int64, err error) {
	step := 1
	if len(sources) > 256 {
		step = len(sources) / 64
	}
	var sampledLines, sampledBytes float64
	br := bufio.NewReaderSize(nil, 16)
	for i, src := range sources {
		bytesTotal += src.size
		if i%step != 0 {
			continue
		}
		var raw atomic.Int64
		// A small read buffer keeps read-ahead from inflating the raw
		// byte count below, which would underestimate the density.
		r, closeFn, err := openInput(src.path, &raw, br)
		if err != nil {
			return 0, 0, fmt.Errorf("read %s: %w", src.path, err)
		}
		sample := make([]byte, chunkSize)
		n, rerr := io.ReadFull(r, sample)
		closeFn()
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return 0, 0, fmt.Errorf("read %s: %w", src.path, rerr)
		}
		if n == 0 {
			continue
		}
		nl := float64(bytes.Count(sample[:n], []byte{'\n'}) + 1)
		if step == 1 && n < chunkSize {
			lines += uint64(nl) // the whole file was sampled
			continue
		}
		// flate still reads a little ahead, and later lines may be
		// shorter: add 3%, since undersizing a Bloom filter raises its
		// false-positive rate while oversizing only costs space.
		rawN := float64(min(raw.Load(), src.size))
		if step == 1 {
			lines += uint64(nl/rawN*float64(src.size)*1.03) + 1
			continue
		}
		sampledLines += nl
		sampledBytes += rawN
	}
	if step > 1 && sampledBytes > 0 {
		lines = uint64(sampledLines/sampledBytes*float64(bytesTotal)*1.03) + 1
	}
	return lines, bytesTotal, nil
}
