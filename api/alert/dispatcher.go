package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SinkConfig is a sink and its queue.
type SinkConfig struct {
	Sink Sink
	// QueueSize bounds the alerts waiting for this sink; default 10,000.
	// When the queue is full a new alert is dropped and counted
	// (riskgate_alerts_dropped_total{reason="queue_full"}): the alerts
	// already waiting are older, and the oldest is the start of the
	// incident.
	QueueSize int
	// SkipClaimed keeps alerts of claimed attempts (see Dispatcher.Claim)
	// from this sink. Set it on the Kafka alerts-topic sink when the
	// stream runner publishes its own alerts to that topic.
	SkipClaimed bool
}

// Options configure a Dispatcher.
type Options struct {
	// Builder decides which decisions alert and builds the alerts.
	Builder *Builder
	// Sinks receive every alert. With none, alerts go to a LogSink on
	// Logger, so that an alert is never only a counter.
	Sinks []SinkConfig
	// MaxBatch bounds the alerts handed to one Send; default 100.
	MaxBatch int
	// Linger is how long a sink's queue waits, once an alert arrives,
	// for more to send with it (unless a batch is already waiting);
	// default 5ms, negative: no wait. The first alert of a burst is
	// delivered that much later, and a burst costs a wakeup and a sink
	// call (a log write, a request, a produce) per batch rather than per
	// alert: under a credential-stuffing attack every attempt alerts.
	Linger time.Duration
	// RetryMin and RetryMax bound the exponential back-off (with jitter)
	// between tries of a failed Send; defaults 200ms and 30s. Retries go
	// on until the alert is delivered, rejected, or the dispatcher closes.
	RetryMin, RetryMax time.Duration
	// Registerer receives the dispatcher's metrics; nil registers none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// LogPerSecond bounds the alerts a second the log sink, used when no
	// sink is given, writes one by one; past it they are counted by rule
	// in a line every 10 s (and as dropped, reason log_rate). 0 logs
	// every alert.
	LogPerSecond int
	// TenantShare is the share of each sink's queue, and of the
	// notifications held for their login's outcome, that one tenant may
	// take once a second tenant has alerted or notified: past it, that
	// tenant's new alerts (and held notifications) are dropped and
	// counted (reason tenant_share), so that one tenant's flood leaves
	// room for the others'. In (0, 1]; 0 is DefaultTenantShare, 1 no
	// per-tenant share. A node that only ever sees one tenant is never
	// held to it.
	TenantShare float64

	// dropReport is how often the alerts dropped on a full queue are
	// logged, per sink, while they are; default 10s (tests shorten it).
	dropReport time.Duration
}

// abandonGrace is how long Close waits, past its deadline, for a sink's
// Send to heed the cancellation (a write to a pipe nobody reads never
// does): its alerts are then counted as not delivered and it is left
// behind.
const abandonGrace = time.Second

// Dispatcher is an engine.Observer that turns decisions into alerts and
// hands them to its sinks without ever blocking the caller: each sink has
// a bounded queue drained by its own goroutine.
type Dispatcher struct {
	opts   Options
	log    *slog.Logger
	queues []*queue
	skip   bool // some sink skips claimed attempts
	claims claimSet
	notify *notify // nil without BuilderOptions.Notify.Enabled
	m      *metrics
	// tenants names the tenants the queues' and the hold's shares count
	// (tenantshare.go); nil when TenantShare is 1.
	tenants *tenantTable

	mu     sync.RWMutex // Publish holds it for reading; Close for writing
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
	abort  context.CancelFunc // cancels sends once the Close deadline passes
	ctx    context.Context
	drops  chan struct{} // closed when the drop reporter has stopped
}

// NewDispatcher starts a dispatcher. Close it to flush and stop.
func NewDispatcher(opts Options) (*Dispatcher, error) {
	if opts.Builder == nil {
		return nil, errors.New("alert: dispatcher needs a builder")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if len(opts.Sinks) == 0 {
		opts.Sinks = []SinkConfig{{Sink: NewLogSink(opts.Logger).thinned(opts.LogPerSecond, time.Now)}}
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 100
	}
	if opts.Linger == 0 {
		opts.Linger = 5 * time.Millisecond
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 200 * time.Millisecond
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(30*time.Second, opts.RetryMin)
	}
	if opts.dropReport <= 0 {
		opts.dropReport = 10 * time.Second
	}
	if opts.TenantShare == 0 {
		opts.TenantShare = DefaultTenantShare
	}
	if err := checkTenantShare(opts.TenantShare); err != nil {
		return nil, err
	}
	m := newMetrics()
	d := &Dispatcher{opts: opts, log: opts.Logger, stop: make(chan struct{}), m: m}
	if opts.TenantShare < 1 {
		d.tenants = newTenantTable()
	}
	if no := opts.Builder.opts.Notify; no.Enabled {
		d.notify = newNotify(no.HoldTTL, no.HoldEntries, m.evictedFull.Inc)
		if d.tenants != nil {
			m.evictedShare = m.evicted.WithLabelValues(EvictTenantShare)
			d.notify.shareOf(d.tenants, opts.TenantShare, m.evictedShare.Inc)
		}
	}
	d.ctx, d.abort = context.WithCancel(context.Background())
	d.claims.init()
	seen := map[string]bool{}
	for _, sc := range opts.Sinks {
		if sc.Sink == nil {
			return nil, errors.New("alert: nil sink")
		}
		name := sc.Sink.Name()
		if seen[name] {
			return nil, fmt.Errorf("alert: two sinks named %q", name)
		}
		seen[name] = true
		if sc.QueueSize <= 0 {
			sc.QueueSize = 10_000
		}
		q := &queue{cfg: sc, ch: make(chan *Alert, sc.QueueSize), m: m.sink(name), full: make(chan struct{}, 1), done: make(chan struct{})}
		q.enough = max(1, min(opts.MaxBatch, sc.QueueSize/2))
		if d.tenants != nil {
			q.share = newShares(d.tenants, opts.TenantShare, sc.QueueSize)
			m.tenantShareCounter(&q.m, name)
		}
		if r, ok := sc.Sink.(reopener); ok {
			m.reopenCounters(&q.m, name)
			r.reportTo(d.reopened(q))
		}
		if _, ok := sc.Sink.(thinner); ok {
			m.logRateCounter(&q.m, name)
		}
		d.queues = append(d.queues, q)
		d.skip = d.skip || sc.SkipClaimed
	}
	if err := m.register(opts.Registerer, d.queues); err != nil {
		return nil, err
	}
	for _, q := range d.queues {
		d.wg.Add(1)
		go d.run(q)
	}
	d.drops = make(chan struct{})
	go d.reportDrops()
	return d, nil
}

// reopener is a sink that writes to a file it can open again (FileSink),
// and tells of its reopens.
type reopener interface {
	Reopen() error
	Path() string
	reportTo(func(reopenReport))
}

// Reopen reopens the sinks that write to files (FileSink), for log
// rotation: call it on SIGHUP. Each reopen is counted and logged (see
// reopened); one that fails leaves the sink writing to the file it had
// open while the path names it.
func (d *Dispatcher) Reopen() error {
	var errs []error
	for _, q := range d.queues {
		if r, ok := q.cfg.Sink.(reopener); ok {
			if err := r.Reopen(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// reopened is how q's file sink tells of a reopen, asked for (SIGHUP) or
// its own (the path no longer named its file): counted
// (riskgate_alert_reopens_total by result) and logged, a failure as an
// error naming the file (the sink says a failure of its own once, until
// it can reopen the file: its writes meanwhile fail, and are counted and
// retried as any sink's).
func (d *Dispatcher) reopened(q *queue) func(reopenReport) {
	return func(r reopenReport) {
		name := q.cfg.Sink.Name()
		if r.err != nil {
			q.m.reopenFailed.Inc()
			d.log.Error("alert file reopen failed", "sink", name, "path", r.path, "reason", r.reason, "err", r.err)
			return
		}
		q.m.reopened.Inc()
		attrs := []any{"sink", name, "path", r.path, "reason", r.reason}
		if r.recovered > 0 {
			attrs = append(attrs, "recovered_lines", r.recovered)
		}
		d.log.Info("alert file reopened", attrs...)
		if r.lost != nil {
			d.log.Error("alert file removed: lines written to it since the last check may be lost", "sink", name, "path", r.path, "recovered_lines", r.recovered, "err", r.lost)
		}
	}
}

// Close stops accepting alerts and delivers what is queued until ctx ends;
// what is still undelivered then is dropped, counted
// (reason="shutdown") and reported in the error. Sinks are closed last.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	<-d.drops
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.abort()
		grace := time.NewTimer(abandonGrace)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
			d.abandon()
		}
	}
	d.abort()
	d.reportShareDrops("shutdown")
	var errs []error
	for _, q := range d.queues {
		name := q.cfg.Sink.Name()
		// What the drop reporter had not logged yet, and the sum: a sink
		// that never recovered would otherwise leave no line of them.
		if n := q.dropped.Swap(0); n > 0 || q.droppedTotal.Load() > 0 {
			d.log.Warn("alert queue full; alerts dropped", "sink", name, "dropped", n, "dropped_total", q.droppedTotal.Load(), "at", "shutdown")
		}
		if n := q.lost.Load(); n > 0 {
			errs = append(errs, fmt.Errorf("alert: sink %s: %d alerts not delivered before the shutdown deadline", name, n))
		}
		q.settle.Lock()
		abandoned := q.abandoned
		q.settle.Unlock()
		if abandoned {
			errs = append(errs, fmt.Errorf("alert: sink %s: a delivery in progress did not stop at the shutdown deadline; left behind, not closed", name))
			continue
		}
		if err := q.cfg.Sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("alert: close sink %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// abandon counts, for each sink whose goroutine is still in a Send that
// ignores cancellation, the alerts it holds and those queued as not
// delivered, and leaves it behind.
func (d *Dispatcher) abandon() {
	for _, q := range d.queues {
		select {
		case <-q.done:
			continue
		default:
		}
		q.settle.Lock()
		q.abandoned = true
		n := q.inflight
		q.inflight = 0
		q.settle.Unlock()
		for len(q.fill(nil, 1)) > 0 {
			n++
		}
		q.m.dropShutdown.Add(float64(n))
		q.lost.Add(int64(n))
	}
}
