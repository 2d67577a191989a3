// Package capture records every scored attempt, its reported outcomes and
// analysts' labels as a replayable, privacy-safe stream: rotating JSONL
// files (optionally gzip) with size and age retention, in the replay
// format (package engine/replay), so that `riskgate replay` and `riskgate
// backtest` read them as they are.
//
// The Sink is an engine.Observer. It never blocks scoring: Decided and
// Reported copy what they need into a bounded queue and return; when the
// queue is full the event is dropped, counted, and a gap record marks the
// place in the capture. A single goroutine keys, encodes and writes.
//
// Privacy. A capture holds no password hash in any form that could be
// looked up: only a keyed hash of it (for counting accounts per password)
// and the breach status the live check gave. User ids, usernames and
// device ids are keyed hashes (HMAC-SHA-256 under a key derived from the
// server's secret, different from the state store's keys). It does hold
// what the rules need in clear: addresses, user agents, the geo hint,
// channel and custom attributes, and the live decision. Files are deleted
// once their first line is older than Options.Retention, and Forget erases
// a user's lines from every file.
package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// Options configure a Sink. Dir and Secret are required; wiring one into a
// server is:
//
//	sink, err := capture.New(capture.Options{Dir: dir, Secret: hmacSecret, Rules: rulesByVersion})
//	engineOpts.Observers = append(engineOpts.Observers, sink) // and sink.Close(ctx) after the server stops
type Options struct {
	// Dir receives the capture files (created 0700 if missing).
	Dir string
	// Secret keys the identifiers; the capture derives its own key from
	// it. Give the server's stable HMAC secret: with a random one, users
	// do not join across restarts and Forget cannot find older lines.
	Secret []byte
	// Compress writes gzip files (capture-*.jsonl.gz), about 8 times
	// smaller.
	Compress bool
	// MaxFileBytes rotates a file once this many bytes (uncompressed) are
	// written; default 256 MiB.
	MaxFileBytes int64
	// MaxFileAge rotates a file this long after it was opened; default 1
	// hour. At most Retention.
	MaxFileAge time.Duration
	// Retention deletes a file once its first line is this old; default 7
	// days, at most 400 days. Every line is erased within Retention (plus
	// a minute, the check interval) of its writing.
	Retention time.Duration
	// MaxTotalBytes deletes the oldest files while the capture is larger;
	// 0 means no limit beyond Retention.
	MaxTotalBytes int64
	// Buffer is the number of events queued for the writer; default
	// 16384. A full queue drops events (counted, marked by a gap record).
	Buffer int
	// FlushInterval bounds how long a written line may sit in memory
	// before it reaches the file (what a crash loses); default 1 second.
	FlushInterval time.Duration
	// Rules returns the rule files of the ruleset with this version, so
	// that the capture records exactly what scored its attempts (a
	// backtest's default baseline). nil, or no files: only the version
	// is recorded.
	Rules func(version string) []rules.Source
	// Logger receives write errors (rate-limited); default slog.Default().
	Logger *slog.Logger
	// Now is the wall clock for rotation, retention, outcome times and
	// the writer's checks that the folder still holds its file (at most
	// one a second); default time.Now.
	Now func() time.Time
}

// Defaults and bounds of Options.
const (
	DefaultMaxFileBytes  = 256 << 20
	DefaultMaxFileAge    = time.Hour
	DefaultRetention     = 7 * 24 * time.Hour
	MaxRetention         = 400 * 24 * time.Hour
	DefaultBuffer        = 16384
	DefaultFlushInterval = time.Second
	// maxRulesRecord bounds the rule files copied into one rules record.
	maxRulesRecord = 2 << 20
)

// lockFile is the file in a capture folder that names the process whose
// sink writes there (the lock is the folder's: lock_unix.go), for the
// error the next one gets. Readers and retention skip it: it is no
// capture file.
const lockFile = ".lock"

// Sink is the capture observer. Its methods are safe for concurrent use.
type Sink struct {
	opts  Options
	key   []byte // derived from Options.Secret
	keyID string
	log   *slog.Logger

	queue   chan event
	control chan control // requests to the writer (Finish, Forget)
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	unlock  func() // frees the folder for the next sink (lockFolder)
	// folder is the folder locked at the start (nil if it could not be
	// read): a folder made again, or put in its place, is not locked.
	folder os.FileInfo

	// files guards the finished files against concurrent retention and
	// Forget rewrites.
	files sync.Mutex

	attempts, outcomes, dropped, writeErrors, removed atomic.Uint64
	bytes, nfiles                                     atomic.Int64 // finished files
	// The file being written (*.inprogress): 1 while there is one, and
	// its bytes on disk as of the writer's last flush (every
	// FlushInterval).
	curFiles, curBytes atomic.Int64
	// current is the file being written (with its in-progress suffix),
	// named before the writer creates it and until it is finished; nil
	// when there is none. Any other in-progress file was abandoned by a
	// failed write.
	current atomic.Pointer[string]
	// countMu makes the writer's moves of a file from being written to
	// finished (or abandoned) and retention's counting of the files
	// happen one at a time, so that a file is counted once.
	countMu sync.Mutex

	// hooks are the tests' seams (I/O faults); nil in production.
	hooks atomic.Pointer[hooks]
}

// hooks are the tests' seams into the sink's I/O.
type hooks struct {
	// write, when it returns an error, fails a write to the file being
	// written, as a full disk does.
	write func() error
	// rewrite is called as a capture file is about to be copied (a file
	// finished after a failed write, or rewritten without a user); an
	// error fails the copy, as a full disk does.
	rewrite func(path string) error
}

// hookWrite is the write hook's error, if any.
func (s *Sink) hookWrite() error {
	if h := s.hooks.Load(); h != nil && h.write != nil {
		return h.write()
	}
	return nil
}

// hookRewrite is the rewrite hook's error, if any.
func (s *Sink) hookRewrite(path string) error {
	if h := s.hooks.Load(); h != nil && h.rewrite != nil {
		return h.rewrite(path)
	}
	return nil
}

var _ engine.Observer = (*Sink)(nil)

// New validates opts, finishes files a crash left open, applies retention
// and starts the writer.
func New(opts Options) (*Sink, error) { return newSink(opts, nil) }

// newSink is New with a writer that waits for hold to close (tests).
func newSink(opts Options, hold <-chan struct{}) (*Sink, error) {
	if opts.Dir == "" {
		return nil, errors.New("capture: no folder")
	}
	if len(opts.Secret) < engine.MinSecretLen {
		return nil, fmt.Errorf("capture: secret shorter than %d bytes", engine.MinSecretLen)
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.MaxFileBytes, DefaultMaxFileBytes)
	if opts.MaxFileAge <= 0 {
		opts.MaxFileAge = DefaultMaxFileAge
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	switch {
	case opts.Retention > MaxRetention:
		return nil, fmt.Errorf("capture: retention %s longer than %s", opts.Retention, MaxRetention)
	case opts.MaxFileAge > opts.Retention:
		return nil, fmt.Errorf("capture: files rotated every %s outlive the retention %s", opts.MaxFileAge, opts.Retention)
	case opts.MaxTotalBytes < 0:
		return nil, errors.New("capture: negative total size")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	s := &Sink{
		opts: opts, key: deriveKey(opts.Secret), log: opts.Logger,
		queue: make(chan event, opts.Buffer), control: make(chan control),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	s.keyID = keyID(s.key)
	unlock, err := lockFolder(opts.Dir)
	if err != nil {
		return nil, err
	}
	s.unlock = unlock
	s.folder, _ = os.Stat(opts.Dir)
	if err := s.recover(); err != nil {
		unlock()
		return nil, err
	}
	s.applyRetention()
	w := &writer{s: s, k: newKeyer(s.key)}
	go w.run(hold)
	return s, nil
}

// Decided implements engine.Observer: it queues the decision, or counts
// it dropped.
func (s *Sink) Decided(a *engine.Attempt, d *engine.Decision, _ time.Duration) {
	ev := event{
		attempt: *a, decisionID: d.DecisionID, tenant: d.Tenant, username: d.Signals.Attempt.Username,
		rulesVersion: d.RulesVersion, time: d.Time, action: d.Action, score: d.Score,
		pwStatus: d.Signals.Password.Status, pwTier: d.Signals.Password.Tier,
	}
	s.enqueue(&ev)
}

// Reported implements engine.Observer: outcomes and analyst labels.
func (s *Sink) Reported(o *engine.Outcome, _ *engine.Pending) {
	ev := event{outcome: true, out: *o}
	if ev.out.Time.IsZero() {
		ev.out.Time = s.opts.Now().UTC()
	}
	if o.Attempt != nil {
		ev.attempt, ev.hasAttempt = *o.Attempt, true
		ev.out.Attempt = nil
		if ev.attempt.Time.IsZero() {
			// The live engine placed it at its own now; so must a replay.
			ev.attempt.Time = ev.out.Time
		}
	}
	s.enqueue(&ev)
}

// StoreCall implements engine.Observer; the capture does not record it.
func (s *Sink) StoreCall(string, time.Duration, error) {}

// Failed implements engine.Observer; the capture does not record it.
func (s *Sink) Failed(string, string, error) {}

func (s *Sink) enqueue(ev *event) {
	select {
	case s.queue <- *ev:
	default:
		s.dropped.Add(1)
	}
}

// Close writes what is queued, finishes the current file and stops the
// writer. Call it after scoring has stopped: events observed later are
// not written. ctx bounds the wait.
func (s *Sink) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("capture: close: %w", ctx.Err())
	}
}

// Stats are a Sink's counters.
type Stats struct {
	Attempts, Outcomes uint64 // lines written
	Dropped            uint64 // events dropped on a full queue
	WriteErrors        uint64
	Removed            uint64 // lines erased by Forget
	// Files and Bytes are the capture's files on disk, and their size:
	// the finished ones and the one being written (*.inprogress, its
	// size as of the writer's last flush), which the disk holds too.
	Files, Bytes int64
}

// fileDone moves the file being written to the finished files in the
// counters: files of size bytes on disk. The caller holds s.countMu.
func (s *Sink) fileDone(files, size int64) {
	s.current.Store(nil)
	s.curFiles.Store(0)
	s.curBytes.Store(0)
	s.nfiles.Add(files)
	s.bytes.Add(size)
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return Stats{
		Attempts: s.attempts.Load(), Outcomes: s.outcomes.Load(), Dropped: s.dropped.Load(),
		WriteErrors: s.writeErrors.Load(), Removed: s.removed.Load(),
		Files: s.nfiles.Load() + s.curFiles.Load(), Bytes: s.bytes.Load() + s.curBytes.Load(),
	}
}

// KeyID names the key the capture's identifiers are keyed with; every
// file's header carries it.
func (s *Sink) KeyID() string { return s.keyID }

// UserKey is the keyed form of a user id in this capture, as its lines
// carry it: what to search for when answering a subject-access request.
func (s *Sink) UserKey(tenant, userID string) string {
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	return newKeyer(s.key).user(tenant, userID)
}

func isCaptureFile(name string) bool {
	return strings.HasPrefix(name, filePrefix) && (strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".jsonl.gz"))
}
