package alert

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Delivery: each sink's goroutine takes batches off its queue and sends
// them, retrying with back-off what fails until it is sent or dropped.

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
