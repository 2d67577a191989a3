package alert

import (
	"sync"
	"sync/atomic"
	"time"
)

// Queueing: a sink's bounded queue, what Publish puts in it and the sink's
// goroutine takes out, and the alerts dropped on a full queue.

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
