package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/capture"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
	"github.com/riskgate/riskgate/signals"
)

// CaptureConfig is the capture of live traffic for replays and backtests
// (engine/capture, docs/capture.md). The yaml tags are the keys of the
// config file's capture: block.
type CaptureConfig struct {
	Dir           string        `help:"Record every scored attempt, its outcomes and analyst labels in this folder (privacy-safe, replayable: docs/capture.md), for riskgate replay, riskgate backtest and the backtest API. Empty: no capture. It needs a stable --hmac-secret-file, and the folder to itself: a second server given it refuses to start." placeholder:"DIR" yaml:"dir"`
	Compress      bool          `help:"Gzip the capture files (about 8 times smaller)." default:"true" negatable:"" yaml:"compress"`
	MaxFileBytes  int64         `help:"Start a new capture file after this many bytes (uncompressed). 0: the default, 268435456 (256 MiB)." default:"268435456" yaml:"max_file_bytes"`
	MaxFileAge    time.Duration `help:"Start a new capture file after this long (at most --capture-retention). 0: the default, 1h." default:"1h" yaml:"max_file_age"`
	Retention     time.Duration `help:"Delete a capture file once its first line is this old (at most 400 days): every line is gone within this, plus a minute. 0: the default, 168h." default:"168h" yaml:"retention"`
	MaxTotalBytes int64         `help:"Delete the oldest capture files while the capture is larger than this; the default, 10 GiB, holds a week of some 200 logins a second, gzipped (about 90 bytes an attempt). 0: no limit but the retention, which a busy node's disk may not hold." default:"10737418240" yaml:"max_total_bytes"`
	Buffer        int           `help:"Events queued for the capture writer; when it is full, events are dropped (counted) rather than slow scoring. 0: the default, 16384." default:"16384" yaml:"buffer"`

	BacktestMaxAttempts int           `name:"backtest-max-attempts" help:"The backtest API replays at most this many attempts of the capture (the oldest first; the report says when it was cut short). 0: no limit." default:"2000000" yaml:"backtest_max_attempts"`
	BacktestTimeout     time.Duration `name:"backtest-timeout" help:"The backtest API gives up after this long (a shorter request deadline wins). 0: none." default:"2m" yaml:"backtest_timeout"`
}

// check refuses what engine/capture would, naming the flags: its own
// messages, a library's, name its options.
func (c CaptureConfig) check() error {
	retention := cmp.Or(c.Retention, capture.DefaultRetention)
	age := cmp.Or(c.MaxFileAge, capture.DefaultMaxFileAge)
	switch {
	case retention > capture.MaxRetention:
		return fmt.Errorf("capture: --capture-retention %s is longer than the most, %s (%d days)", retention, capture.MaxRetention, capture.MaxRetention/(24*time.Hour))
	case age > retention:
		return fmt.Errorf("capture: --capture-max-file-age %s is longer than --capture-retention %s: a file would outlive the retention; shorten the one or lengthen the other", age, retention)
	}
	return nil
}

// openCapture opens the capture sink when the config names a folder: an
// observer of every decision and outcome, flushed on close, whose rules
// records come from the rules versions the engine has put in force. It
// returns the engine.Rules the engine must read the rules in force
// through (so that every version is remembered), or the manager itself.
func (n *Node) openCapture(secret []byte) (engine.Observer, engine.Rules, error) {
	c := n.cfg.Capture
	if c.Dir == "" {
		return nil, n.rules, nil
	}
	if err := c.check(); err != nil {
		return nil, nil, err
	}
	if !n.stableSecret {
		return nil, nil, errors.New("capture: --capture-dir needs a stable secret (--hmac-secret-file or RISKGATE_HMAC_SECRET): with a random one, a restart starts a capture whose users do not join the earlier files and Forget cannot find them")
	}
	versions := &versionLog{m: n.rules}
	sink, err := capture.New(capture.Options{
		Dir: c.Dir, Secret: secret, Compress: c.Compress,
		MaxFileBytes: c.MaxFileBytes, MaxFileAge: c.MaxFileAge, Retention: c.Retention, MaxTotalBytes: c.MaxTotalBytes,
		Buffer: c.Buffer, Rules: versions.sources, Logger: n.log,
	})
	if err != nil {
		return nil, nil, err
	}
	n.onCloseCtx("capture", sink.Close)
	n.collect(sink)
	n.capture = &nodeCapture{n: n, sink: sink}
	n.log.Info("capture", "dir", c.Dir, "compress", c.Compress, "retention", c.Retention, "key_id", sink.KeyID())
	return sink, versions, nil
}

// versionLog is the engine.Rules of a node that records a capture: the
// manager's rules in force, with the last few versions remembered, so
// that the capture writer, which runs behind scoring, gets the files of
// a version that a reload has since replaced.
type versionLog struct {
	m    *rules.Manager
	last atomic.Pointer[rules.Snapshot]

	mu     sync.Mutex
	recent []*rules.Snapshot // newest last
}

// The engine decides each tenant's attempts by ForTenant only when its
// Rules implements engine.TenantRules: a wrapper that did not would turn
// every tenant overlay off without a word.
var _ engine.TenantRules = (*versionLog)(nil)

// keptVersions bounds versionLog.recent: the writer is milliseconds
// behind, and a version is asked for once per file.
const keptVersions = 16

// Current implements engine.Rules.
func (v *versionLog) Current() engine.Ruleset {
	s := v.m.Snapshot()
	if v.last.Load() != s {
		v.note(s)
	}
	return s.Set
}

// ForTenant implements engine.TenantRules: the tenant's overlay layered
// on the shared rules, as the manager hands it out.
func (v *versionLog) ForTenant(tenant string) engine.Ruleset {
	s := v.m.Snapshot()
	if v.last.Load() != s {
		v.note(s)
	}
	if t, ok := s.Tenants[tenant]; ok {
		return t.Set
	}
	return s.Set
}

func (v *versionLog) note(s *rules.Snapshot) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last.Swap(s) == s {
		return
	}
	v.recent = append(v.recent, s)
	if len(v.recent) > keptVersions {
		v.recent = append(v.recent[:0], v.recent[len(v.recent)-keptVersions:]...)
	}
}

// sources returns the rule files of a version the engine has scored with
// (capture.Options.Rules); nil when it is no longer known. A tenant's
// version (shared + overlay) gets the shared set's files: the capture
// records the shared rules only (docs/capture.md).
func (v *versionLog) sources(version string) []rules.Source {
	version, _ = rules.SplitVersion(version)
	if s := v.m.Snapshot(); s.Set.Version() == version {
		return s.Sources
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := len(v.recent) - 1; i >= 0; i-- {
		if s := v.recent[i]; s.Set.Version() == version {
			return s.Sources
		}
	}
	return nil
}

// nodeCapture is the service's view of the node's capture (a
// service.Capture): erasure, and backtests over its files.
type nodeCapture struct {
	n    *Node
	sink *capture.Sink
	busy atomic.Bool
}

var _ service.Capture = (*nodeCapture)(nil)

func (c *nodeCapture) Forget(ctx context.Context, tenant, user string) (int, error) {
	return c.sink.Forget(ctx, tenant, user)
}

// Backtest replays the capture's files, with everything observed before
// the call (the current file is finished first), one backtest at a time,
// within the config's bounds on attempts and time. Enrichers are the
// node's; each side gets its own signals with the node's breach check.
func (c *nodeCapture) Backtest(ctx context.Context, req service.BacktestRequest) (*backtest.Report, error) {
	if !c.busy.CompareAndSwap(false, true) {
		return nil, service.ErrBusy
	}
	defer c.busy.Store(false)
	cfg := c.n.cfg.Capture
	if cfg.BacktestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.BacktestTimeout)
		defer cancel()
	}
	limit := cfg.BacktestMaxAttempts
	if req.MaxAttempts > 0 && (limit <= 0 || req.MaxAttempts < limit) {
		limit = req.MaxAttempts
	}
	if err := c.sink.Finish(ctx); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	files, err := replay.CaptureFiles(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if len(files) == 0 {
		return nil, service.ErrEmptyCapture
	}
	in, err := replay.Open(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	defer in.Close()
	rep, err := backtest.Run(ctx, in, backtest.Options{
		Candidate: req.Candidate, Baseline: req.Baseline, Enrichers: c.n.enrichers,
		Signals: func() []engine.Signal {
			return signals.Default(signals.Config{MaxSpeedKMH: c.n.cfg.MaxSpeed, Breached: c.n.breach})
		},
		// Its engines' lines (a rule failing on an old attempt) are marked:
		// the runbooks read the log for live failures.
		Samples: req.Samples, MaxAttempts: limit, Logger: c.n.log.With("backtest", true),
	})
	if errors.Is(err, replay.ErrOtherSecret) {
		return nil, fmt.Errorf("%w: a backtest reads the files of one secret: move those of the other out of %s", err, cfg.Dir)
	}
	if errors.Is(err, replay.ErrBadInput) {
		return nil, fmt.Errorf("%w: the capture in %s cannot be read whole: move the damaged file out", err, cfg.Dir)
	}
	if err != nil {
		return nil, err
	}
	if rep.Attempts == 0 {
		return nil, service.ErrEmptyCapture // files with headers or outcomes only
	}
	rep.Input.Path = cfg.Dir
	if rep.Live != nil {
		rep.Live.Warning = backtest.ServerLiveWarning(rep.Live)
	}
	return rep, nil
}
