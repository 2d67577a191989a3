package alert

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/engine"
)

// Sink delivers alerts somewhere. The dispatcher calls Send from one
// goroutine per sink, in queue order.
type Sink interface {
	// Name labels the sink in metrics and logs ("file", "webhook", ...).
	Name() string
	// Send delivers alerts in order and returns how many, from the start,
	// were delivered. A nil error means all were. With an error, alerts[n:]
	// are retried with back-off unless the error is Permanent, in which
	// case alerts[n] is dropped (and counted) and the rest are sent on.
	Send(ctx context.Context, alerts []*Alert) (n int, err error)
	// Close releases the sink's resources once nothing more will be sent.
	Close(ctx context.Context) error
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as a rejection that retrying cannot fix (a webhook
// answering 400, say): the alert is dropped and counted, not retried.
func Permanent(err error) error { return &permanentError{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter wraps a transient err with the delay the receiver asked for
// (an HTTP Retry-After): the next try waits at least that long, up to the
// dispatcher's RetryMax.
func RetryAfter(err error, d time.Duration) error { return &retryAfterError{err, d} }

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

type queue struct {
	cfg      SinkConfig
	ch       chan *Alert
	m        sinkMetrics
	lost     atomic.Int64 // dropped at shutdown
	lastWarn atomic.Int64 // unix nanos of the last logged failure
	// dropped counts alerts dropped on a full queue until the
	// dispatcher's drop reporter logs them: Publish runs on a scoring
	// goroutine, which must not wait for a log line (the log sink's
	// queue is full when standard error is not being read).
	dropped      atomic.Int64
	droppedTotal atomic.Int64
	// done closes when the sink's goroutine returns. Under settle:
	// inflight is the number of alerts it holds in deliver, not yet
	// delivered nor counted; abandoned is set by a Close that stopped
	// waiting for it (its Send ignores cancellation) and counted them.
	done      chan struct{}
	settle    sync.Mutex
	inflight  int
	abandoned bool
	// enough is the queue length that ends a linger early, and full
	// carries that news from Publish: a queue smaller than a batch would
	// otherwise sit full through the linger and drop what arrives.
	enough int
	full   chan struct{}
	// share counts the alerts queued by tenant, and refuses one past
	// its tenant's share; nil when there is no per-tenant share.
	share *shares
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
		if _, ok := sc.Sink.(reopener); ok {
			m.reopenCounters(&q.m, name)
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

// Decided builds the decision's alert, if it alerts, and queues it; and,
// when the builder's Notify is enabled, its notification event when the decision completes
// the login (allowed with the right password), or holds that event until
// the outcome that completes it.
func (d *Dispatcher) Decided(a *engine.Attempt, dec *engine.Decision, _ time.Duration) {
	if d.notify != nil && len(dec.Notify) > 0 {
		d.publishNotification(d.notify.decided(d.opts.Builder, a, dec))
	}
	if !d.opts.Builder.Wants(dec) {
		return
	}
	d.Publish(d.opts.Builder.Build(dec))
}

// Reported implements engine.Observer: outcomes raise no alerts, but a
// passed step-up (or a login_succeeded after a score before the password
// check) publishes the notification its decision held.
func (d *Dispatcher) Reported(o *engine.Outcome, _ *engine.Pending) {
	if d.notify != nil {
		d.publishNotification(d.notify.reported(o))
	}
}

// Forgotten implements engine.ForgetObserver: the notifications held for
// the erased user's logins are dropped. Their outcomes can no longer come
// (Forget erased the pending decisions), so they were never to be
// published, and they held the user's address, place and username in
// memory for --alerts-notify-hold-ttl after the erasure, in room that
// other users' held notifications need.
func (d *Dispatcher) Forgotten(tenant, userID string) {
	if d.notify != nil {
		d.notify.forget(tenant, userID)
	}
}

func (d *Dispatcher) publishNotification(n *Notification) {
	if n == nil {
		return
	}
	d.m.notified.Inc()
	d.Publish(n.envelope())
}

// StoreCall implements engine.Observer.
func (d *Dispatcher) StoreCall(string, time.Duration, error) {}

// Failed implements engine.Observer.
func (d *Dispatcher) Failed(string, string, error) {}

// Publish queues an alert for every sink, without blocking. After Close
// it is dropped and counted.
func (d *Dispatcher) Publish(a *Alert) {
	if a == nil {
		return
	}
	// The stream runner writes the alerts of its attempts itself, never
	// their notifications.
	claimed := d.skip && a.Notification == nil && d.claims.has(a.Tenant, a.AttemptID)
	slot := 0
	if d.tenants != nil {
		slot = d.tenants.slot(a.Tenant)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, q := range d.queues {
		if claimed && q.cfg.SkipClaimed {
			continue
		}
		if d.closed {
			q.m.dropClosed.Inc()
			continue
		}
		if q.share.full(slot) {
			// The tenant's flood is dropped, not the others' alerts:
			// counted, and logged by tenant by the drop reporter.
			q.m.dropShare.Inc()
			continue
		}
		select {
		case q.ch <- a:
			q.share.add(slot, 1)
			if len(q.ch) >= q.enough {
				select {
				case q.full <- struct{}{}:
				default:
				}
			}
		default:
			q.m.dropFull.Inc()
			q.dropped.Add(1)
			q.droppedTotal.Add(1)
		}
	}
}

// Claim marks an attempt whose alert the caller publishes itself to the
// destination of the sinks configured with SkipClaimed: the stream runner
// claims each attempt before scoring it and writes its alert to the alerts
// topic before committing the message, so the dispatcher's alerts-topic
// sink must not write it again. Every Claim needs a Release.
func (d *Dispatcher) Claim(tenant, attemptID string) { d.claims.add(tenant, attemptID, 1) }

// Release ends a Claim.
func (d *Dispatcher) Release(tenant, attemptID string) { d.claims.add(tenant, attemptID, -1) }

// reopener is a sink that writes to a file it can open again (FileSink).
type reopener interface {
	Reopen() error
	Path() string
}

// Reopen reopens the sinks that write to files (FileSink), for log
// rotation: call it on SIGHUP. Each reopen is counted
// (riskgate_alert_reopens_total by result); one that fails (the
// directory is gone, no permission) is logged as an error naming the
// file, and the sink goes on writing to the file it had open (renamed or
// unlinked, maybe) until a reopen succeeds.
func (d *Dispatcher) Reopen() error {
	var errs []error
	for _, q := range d.queues {
		r, ok := q.cfg.Sink.(reopener)
		if !ok {
			continue
		}
		if err := r.Reopen(); err != nil {
			q.m.reopenFailed.Inc()
			d.log.Error("alert file reopen failed", "sink", q.cfg.Sink.Name(), "path", r.Path(), "err", err)
			errs = append(errs, err)
			continue
		}
		q.m.reopened.Inc()
		d.log.Info("alert file reopened", "sink", q.cfg.Sink.Name(), "path", r.Path())
	}
	return errors.Join(errs...)
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

// reportDrops logs, once a period per sink, the alerts dropped on a
// full queue since the last line: while the sink is down too, when no
// delivery ends to log them. Close logs the rest.
func (d *Dispatcher) reportDrops() {
	defer close(d.drops)
	t := time.NewTicker(d.opts.dropReport)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			for _, q := range d.queues {
				if th, ok := q.cfg.Sink.(thinner); ok {
					// What was thinned since the last summary, however
					// recent: a summary within the period whatever the
					// alerts' timing, and an incident's tail, with no alert
					// after it to bring it out.
					th.summarizeThinned(true)
				}
				if n := q.dropped.Swap(0); n > 0 {
					d.log.Warn("alert queue full; alerts dropped", "sink", q.cfg.Sink.Name(), "dropped", n, "dropped_total", q.droppedTotal.Load())
				}
			}
			d.reportShareDrops("")
		}
	}
}

func (d *Dispatcher) run(q *queue) {
	defer d.wg.Done()
	defer close(q.done)
	batch := make([]*Alert, 0, d.opts.MaxBatch)
	var linger *time.Timer
	if d.opts.Linger > 0 {
		linger = time.NewTimer(d.opts.Linger)
		linger.Stop()
	}
	for {
		select {
		case a := <-q.ch:
			q.took(a)
			if linger != nil {
				d.linger(q, linger)
			}
			batch = q.fill(append(batch[:0], a), d.opts.MaxBatch)
			d.deliver(q, batch)
		case <-d.stop:
			for {
				batch = q.fill(batch[:0], d.opts.MaxBatch)
				if len(batch) == 0 {
					return
				}
				d.deliver(q, batch)
			}
		}
	}
}

// linger waits, after an alert, for more to join its batch: until the
// linger is up, enough are queued, or the dispatcher stops. It waits on
// the timer, not on the queue: alerts queued meanwhile wake nobody until
// there are enough of them.
func (d *Dispatcher) linger(q *queue, t *time.Timer) {
	// Drop the news of an earlier batch first, then read the length: news
	// dropped after the length was read could be that the queue had just
	// filled, and the batch would wait the whole linger with enough queued.
	// A Publish after this says it again.
	select {
	case <-q.full:
	default:
	}
	if len(q.ch) >= q.enough-1 {
		return
	}
	t.Reset(d.opts.Linger)
	select {
	case <-t.C:
	case <-q.full:
		t.Stop()
	case <-d.stop:
		t.Stop()
	}
}

// fill appends queued alerts to batch without waiting, up to max.
func (q *queue) fill(batch []*Alert, max int) []*Alert {
	for len(batch) < max {
		select {
		case a := <-q.ch:
			q.took(a)
			batch = append(batch, a)
		default:
			return batch
		}
	}
	return batch
}

// took uncounts an alert taken off the queue from its tenant's share.
func (q *queue) took(a *Alert) {
	if q.share != nil {
		q.share.add(q.share.tenants.slot(a.Tenant), -1)
	}
}

// deliver sends batch, retrying what fails, until it is sent or dropped.
func (d *Dispatcher) deliver(q *queue, batch []*Alert) {
	ctx := d.ctx
	failures := 0
	defer q.hold(0)
	for len(batch) > 0 {
		if !q.hold(len(batch)) {
			return // Close counted them
		}
		if ctx.Err() != nil {
			if q.hold(0) {
				q.m.dropShutdown.Add(float64(len(batch)))
				q.lost.Add(int64(len(batch)))
			}
			return
		}
		n, err := q.cfg.Sink.Send(ctx, batch)
		if err == nil {
			sent := len(batch)
			if th, ok := q.cfg.Sink.(thinner); ok {
				// A thinning sink never fails: what it left out of the
				// batch is not delivered, and is counted so.
				k := th.takeThinned()
				sent -= k
				q.m.dropLogRate.Add(float64(k))
			}
			q.m.sent.Add(float64(sent))
			delivered(q, batch)
			if failures > 0 {
				d.log.Info("alert sink recovered", "sink", q.cfg.Sink.Name(), "failures", failures)
			}
			return
		}
		n = min(max(n, 0), len(batch))
		q.m.sent.Add(float64(n))
		delivered(q, batch[:n])
		batch = batch[n:]
		if len(batch) == 0 {
			return
		}
		if IsPermanent(err) {
			q.m.dropRejected.Inc()
			d.log.Error("alert rejected by sink; dropped", "sink", q.cfg.Sink.Name(), "alert_id", batch[0].AlertID, "err", err)
			batch = batch[1:]
			continue
		}
		if ctx.Err() != nil {
			continue // the shutdown deadline passed during Send
		}
		q.m.errors.Inc()
		failures++
		d.warn(q, "alert delivery failed; retrying", "err", err, "failures", failures)
		wait := d.backoff(failures)
		var ra *retryAfterError
		if errors.As(err, &ra) && ra.after > wait {
			wait = min(ra.after, d.opts.RetryMax)
		}
		sleep(ctx, wait)
	}
}

// hold records that the sink's goroutine holds n alerts, unless Close has
// abandoned it (false: Close counted what it held).
func (q *queue) hold(n int) bool {
	q.settle.Lock()
	defer q.settle.Unlock()
	if q.abandoned {
		return false
	}
	q.inflight = n
	return true
}

// delivered observes the delivery delay of the alerts of a batch a sink
// took. A time ahead of this node's (another node's clock, a client's
// attempt time) counts 0.
func delivered(q *queue, batch []*Alert) {
	now := time.Now()
	for _, a := range batch {
		if a.Notification == nil && !a.Time.IsZero() {
			q.m.delay.Observe(max(now.Sub(a.Time), 0).Seconds())
		}
	}
}

// backoff is exponential with equal jitter: half the step fixed, half
// random, so that many nodes retrying a recovered receiver spread out.
func (d *Dispatcher) backoff(failures int) time.Duration {
	step := d.opts.RetryMin
	for i := 1; i < failures && step < d.opts.RetryMax; i++ {
		step *= 2
	}
	step = min(step, d.opts.RetryMax)
	return step/2 + rand.N(step/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// warn logs at most one line per sink every 10 seconds.
func (d *Dispatcher) warn(q *queue, msg string, args ...any) {
	if d.mayWarn(q) {
		d.log.Warn(msg, append([]any{"sink", q.cfg.Sink.Name()}, args...)...)
	}
}

// mayWarn reports whether q may log a warning now (one per 10 s), and if
// so counts it as logged.
func (d *Dispatcher) mayWarn(q *queue) bool {
	now := time.Now().UnixNano()
	last := q.lastWarn.Load()
	return now-last >= int64(10*time.Second) && q.lastWarn.CompareAndSwap(last, now)
}

// claimSet counts claims by tenant and attempt id, sharded to keep the
// stream's workers off one lock.
type claimSet struct {
	seed   maphash.Seed
	shards [16]claimShard
}

type claimShard struct {
	mu sync.Mutex
	m  map[claimKey]int
}

type claimKey struct{ tenant, id string }

func (c *claimSet) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[claimKey]int)
	}
}

func (c *claimSet) shard(k claimKey) *claimShard {
	return &c.shards[maphash.Comparable(c.seed, k)%uint64(len(c.shards))]
}

func (c *claimSet) add(tenant, id string, n int) {
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	k := claimKey{tenant, id}
	s := c.shard(k)
	s.mu.Lock()
	if v := s.m[k] + n; v > 0 {
		s.m[k] = v
	} else {
		delete(s.m, k)
	}
	s.mu.Unlock()
}

func (c *claimSet) has(tenant, id string) bool {
	k := claimKey{tenant, id}
	s := c.shard(k)
	s.mu.Lock()
	_, ok := s.m[k]
	s.mu.Unlock()
	return ok
}
