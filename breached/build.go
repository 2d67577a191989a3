package breached

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Input is one file or folder for Build: HIBP `SHA1HEX:COUNT` lines or a
// plain password list, optionally gzip-compressed (detected from the magic
// bytes); or a folder, either as the Have I Been Pwned downloader writes it
// with -s false (range files 00000.txt … FFFFF.txt) or of such files.
type Input struct {
	Path   string
	Format Format // FormatAuto unless the caller knows
}

// BuildOptions configures Build. The zero value builds a Bloom filter at the
// default false-positive rate with no tiers.
type BuildOptions struct {
	Kind Kind // KindBloom when zero
	// FPR is the target false-positive rate of a Bloom filter (default
	// DefaultFPR). Fuse filters have a fixed rate of 2^-bits per kind.
	FPR float64
	// MinCount keeps only hashes seen at least this many times (HIBP
	// counts). Plain-list entries count as PlainCount.
	MinCount uint64
	// Tiers are increasing prevalence thresholds, e.g. 1, 100, 10000: a
	// lookup then says which tier a hit is in. Empty means no tiers.
	Tiers []uint64
	// Expected is the number of entries to size a Bloom filter for. When
	// zero it is counted by a first pass over the inputs if MinCount or
	// Tiers make the input size meaningless, else estimated from the size.
	Expected uint64
	// PlainCount is the prevalence given to each plain-list entry (default 1).
	PlainCount uint64
	// Source is stored in the header (default: the input file names).
	Source string
	// BuildTime is stored in the header (default now). Set it to make a
	// build reproducible byte for byte.
	BuildTime time.Time
	// Workers parse and insert in parallel (default GOMAXPROCS).
	Workers int
	// Progress, when set, is called about twice a second from another
	// goroutine, and once at the end of each phase.
	Progress func(Progress)
	// MaxReported is how many malformed lines are reported in detail
	// (default 10); all are counted.
	MaxReported int
	// MaxMalformed is the largest share of malformed lines any one file
	// may have (default DefaultMaxMalformed); above it the build fails
	// with ErrMalformed, naming the file and its first bad line. 1 accepts
	// anything.
	MaxMalformed float64
	// Partial accepts a downloader folder with range files missing.
	Partial bool
}

// DefaultMaxMalformed is the default limit on malformed lines per file:
// 0.1%. The downloader's files have none; a file with more is damaged, or
// not what it seems, and a filter built from it would silently miss hashes.
const DefaultMaxMalformed = 0.001

// DefaultFPR is the default target false-positive rate. A 1% rate made
// Keycloak reject one strong password in a hundred; 1e-6 is one in a million.
const DefaultFPR = 1e-6

// Progress is a snapshot of a running build.
type Progress struct {
	Phase      string // "counting", "inserting", "building", "writing"
	BytesRead  int64  // raw (compressed) input bytes read in this phase
	BytesTotal int64
	Lines      uint64
	Entries    uint64
	Elapsed    time.Duration // since the build started
}

// Result summarises a build.
type Result struct {
	Info           Info     // of the file written
	Formats        []Format // per input, as read (detected when FormatAuto; of its first file for a folder of lists)
	Files          int      // files read (a downloader folder is 1,048,576)
	Lines          uint64   // lines read in the inserting pass
	Entries        uint64   // hashes accepted (valid, at least MinCount), repeats included
	Repeated       uint64   // Bloom: of Entries, those in tier 1 already when inserted (see bloomSink), which Info.Entries leaves out; fuse: 0, it cannot tell
	BelowMinCount  uint64   // valid lines skipped for MinCount
	Empty          uint64   // empty lines, skipped
	Malformed      uint64   // malformed lines, never inserted
	FirstMalformed []LineError
	Passes         int // 2 when a counting pass was needed
	Elapsed        time.Duration
}

// Build reads the inputs and writes a filter file to out, atomically (a
// temporary file in the same directory renamed into place).
func Build(ctx context.Context, out string, inputs []Input, opt BuildOptions) (*Result, error) {
	start := time.Now()
	if err := opt.normalise(); err != nil {
		return nil, err
	}
	if len(inputs) == 0 {
		return nil, errors.New("breached: build: no inputs")
	}
	sources, formats, err := expandInputs(inputs, opt.Partial)
	if err != nil {
		return nil, fmt.Errorf("breached: build: %w", err)
	}
	if err := refuseInputAsOut(out, sources); err != nil {
		return nil, err
	}
	if err := checkOut(out); err != nil {
		return nil, err
	}
	sc := &scanner{
		sources:    sources,
		formats:    make([]Format, len(sources)),
		workers:    opt.Workers,
		minCount:   opt.MinCount,
		plainCount: opt.PlainCount,
		maxReport:  opt.MaxReported,
		maxBad:     opt.MaxMalformed,
		stats:      make([]scanStats, opt.Workers),
	}
	est, total, err := estimateLines(sources)
	if err != nil {
		return nil, fmt.Errorf("breached: build: %w", err)
	}
	sc.bytesTotal = total
	res := &Result{Passes: 1}
	thresholds := opt.Tiers
	if len(thresholds) == 0 {
		thresholds = []uint64{opt.MinCount}
	}

	stop := startProgress(opt.Progress, sc, start)
	defer stop()

	var b sink
	if opt.Kind == KindBloom {
		counts := make([]uint64, len(thresholds))
		counts[0] = est
		if opt.Expected > 0 {
			counts[0] = opt.Expected
		}
		if len(thresholds) > 1 || (opt.Expected == 0 && opt.MinCount > 1) {
			if counts, err = countTiers(ctx, sc, thresholds); err != nil {
				return nil, fmt.Errorf("breached: build: %w", err)
			}
			counts[0] = max(counts[0], opt.Expected)
			res.Passes = 2
		}
		b = newBloomSink(thresholds, counts, opt.FPR, opt.Workers)
	} else {
		n := est
		if opt.Expected > 0 {
			n = opt.Expected
		}
		b = newFuseSink(opt.Kind, thresholds, n, opt.Workers)
	}
	setPhase(sc, "inserting")
	if err := sc.run(ctx, b.visit); err != nil {
		return nil, fmt.Errorf("breached: build: %w", err)
	}
	t := sc.totals()
	res.Formats, res.Files = formats, len(sources)
	for i := len(sources) - 1; i >= 0; i-- {
		if formats[sources[i].input] != FormatHIBPRange {
			formats[sources[i].input] = sc.formats[i]
		}
	}
	res.Lines, res.Entries, res.BelowMinCount, res.Empty, res.Malformed = t.lines, t.accepted, t.belowMin, t.empty, t.malformed
	if bs, ok := b.(*bloomSink); ok {
		res.Repeated = bs.repeated()
	}
	res.FirstMalformed = sc.reported
	if res.Entries == 0 {
		// A filter of nothing finds no password breached: served, it
		// would look like a working check. An empty input is most often
		// a failed download or the wrong file.
		return nil, fmt.Errorf("breached: build: no entries in the inputs (%d lines read, %d empty, %d malformed, %d below the minimum count): a failed download, or the wrong file?",
			res.Lines, res.Empty, res.Malformed, res.BelowMinCount)
	}

	hdr := &header{
		kind:      opt.Kind,
		flags:     0,
		minCount:  opt.MinCount,
		targetFPR: opt.FPR,
		built:     opt.BuildTime.UnixNano(),
		source:    opt.Source,
	}
	if len(opt.Tiers) > 0 {
		hdr.flags |= flagTiered
	}
	if hdr.source == "" {
		names := make([]string, len(inputs))
		for i, in := range inputs {
			names[i] = filepath.Base(in.Path)
		}
		hdr.source = strings.Join(names, ", ")
	}
	if len(hdr.source) > maxSource {
		hdr.source = hdr.source[:maxSource]
	}
	for _, f := range sc.formats {
		if f == FormatPlain && len(opt.Tiers) == 0 {
			hdr.minCount = 0 // plain lists carry no prevalence
		}
	}
	setPhase(sc, "building")
	if err := b.write(ctx, out, hdr, opt.Workers); err != nil {
		return nil, fmt.Errorf("breached: build %s: %w", out, err)
	}
	stop()
	if res.Info, err = ReadInfo(out, false); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// refuseInputAsOut refuses an output that is one of the files to read:
// the filter, written to a temporary file and renamed, replaced the input
// (a download of some 40 GB) once it was read.
func refuseInputAsOut(out string, sources []source) error {
	ofi, err := os.Stat(out)
	if err != nil {
		return nil // not there yet: it is no input
	}
	for _, src := range sources {
		if fi, err := os.Stat(src.path); err == nil && os.SameFile(fi, ofi) {
			return fmt.Errorf("breached: build: the output %s is the input %s, which writing the filter would replace", out, src.path)
		}
	}
	return nil
}

// checkOut refuses, before anything is read, an output the filter cannot
// be renamed onto or whose folder cannot take it. The rename replaced
// whatever was there: a device (--out /dev/null, run as root, took
// /dev/null away from the host) or a FIFO; and a folder, a missing folder
// or a read-only one failed only once every input was read, minutes into
// a full-size build. A link is replaced by the filter, as a file is.
func checkOut(out string) error {
	if fi, err := os.Lstat(out); err == nil {
		switch {
		case fi.IsDir():
			return fmt.Errorf("breached: build: the output %s is a folder: name the filter file to write in it", out)
		case !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0:
			return fmt.Errorf("breached: build: the output %s is not a regular file (%s): writing the filter would replace it", out, fileKind(fi.Mode()))
		}
	}
	// The filter is written beside out, then renamed: try that folder now.
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("breached: build: the output %s cannot be written: %w", out, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// fileKind names what a file that is not a regular one is.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO or a pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

func (o *BuildOptions) normalise() error {
	if o.Kind == 0 {
		o.Kind = KindBloom
	}
	if o.Kind < KindBloom || o.Kind > KindFuse32 {
		return fmt.Errorf("breached: build: unknown filter kind %d", o.Kind)
	}
	if o.FPR == 0 {
		o.FPR = DefaultFPR
	}
	if o.Kind != KindBloom {
		o.FPR = o.Kind.fuseFPR()
	}
	if !(o.FPR >= 1e-12 && o.FPR < 0.5) {
		return fmt.Errorf("breached: build: false-positive rate %g outside [1e-12, 0.5)", o.FPR)
	}
	if o.PlainCount == 0 {
		o.PlainCount = 1
	}
	if o.MaxReported == 0 {
		o.MaxReported = 10
	}
	if o.MaxMalformed == 0 {
		o.MaxMalformed = DefaultMaxMalformed
	}
	if !(o.MaxMalformed > 0 && o.MaxMalformed <= 1) {
		return fmt.Errorf("breached: build: --max-malformed %g outside (0, 1]", o.MaxMalformed)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BuildTime.IsZero() {
		o.BuildTime = time.Now()
	}
	if len(o.Tiers) > maxLevels {
		return fmt.Errorf("breached: build: %d tiers, at most %d", len(o.Tiers), maxLevels)
	}
	for i, t := range o.Tiers {
		if t == 0 || (i > 0 && t <= o.Tiers[i-1]) {
			return fmt.Errorf("breached: build: tiers must be increasing counts from 1, got %v", o.Tiers)
		}
	}
	if len(o.Tiers) > 0 {
		if o.MinCount > o.Tiers[0] {
			return fmt.Errorf("breached: build: --min-count %d is above the first tier %d", o.MinCount, o.Tiers[0])
		}
		o.MinCount = o.Tiers[0]
	}
	if o.MinCount == 0 {
		o.MinCount = 1
	}
	return nil
}

// countTiers is the counting pass: how many entries reach each threshold,
// so each tier's Bloom filter gets its exact size.
func countTiers(ctx context.Context, sc *scanner, thresholds []uint64) ([]uint64, error) {
	setPhase(sc, "counting")
	per := make([][]uint64, sc.workers)
	for w := range per {
		per[w] = make([]uint64, len(thresholds)+8) // padding against false sharing
	}
	err := sc.run(ctx, func(w int, _ [20]byte, count uint64) {
		for i, t := range thresholds {
			if count < t {
				break
			}
			per[w][i]++
		}
	})
	counts := make([]uint64, len(thresholds))
	for _, p := range per {
		for i := range counts {
			counts[i] += p[i]
		}
	}
	return counts, err
}

// setPhase names the current phase for the progress reporter.
func setPhase(sc *scanner, p string) {
	sc.mu.Lock()
	sc.phase = p
	sc.mu.Unlock()
}

func startProgress(fn func(Progress), sc *scanner, start time.Time) (stop func()) {
	if fn == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	snapshot := func() {
		t := sc.totals()
		sc.mu.Lock()
		phase := sc.phase
		sc.mu.Unlock()
		fn(Progress{Phase: phase, BytesRead: sc.bytesRead.Load(), BytesTotal: sc.bytesTotal,
			Lines: t.lines, Entries: t.accepted, Elapsed: time.Since(start)})
	}
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				snapshot()
				return
			case <-tick.C:
				snapshot()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
