package client

import (
	"sync/atomic"
	"time"
)

// Observer is told of every call and of every change of the circuit
// breaker, to feed the integrator's metrics (package clientprom does it for
// Prometheus). Its methods run on the login path: they must be quick and
// must not block.
type Observer interface {
	CallDone(Call)
	BreakerChanged(from, to BreakerState)
}

// Call describes one finished Score or Report.
type Call struct {
	// Op is "score" or "report".
	Op string
	// Duration is the whole call, retries and pauses included.
	Duration time.Duration
	// Tries is how many times the request was sent (0: not sent, the
	// circuit being open or the attempt refused before sending).
	Tries int
	// Cause is empty when riskgate answered as asked.
	Cause Cause
	// Action is the decision's action, for a score (the failover action
	// when Failover).
	Action Action
	// Failover is true for a score that riskgate did not decide.
	Failover bool
}

// Stats are the client's counters since New.
type Stats struct {
	// Decisions are the scores riskgate decided.
	Decisions uint64
	// Failovers are the scores it did not decide, by cause.
	Failovers map[Cause]uint64
	// Reports are outcomes delivered to riskgate.
	Reports uint64
	// ReportFailures are outcomes that could not be delivered, by cause.
	ReportFailures map[Cause]uint64
	// Retries are requests sent again after a try that did not reach
	// riskgate.
	Retries uint64
	// BreakerOpened counts the times the circuit opened.
	BreakerOpened uint64
	// Breaker is the breaker's state now.
	Breaker BreakerState
}

// FailoverTotal is the sum of Failovers.
func (s Stats) FailoverTotal() uint64 {
	var n uint64
	for _, v := range s.Failovers {
		n += v
	}
	return n
}

type counters struct {
	decisions      atomic.Uint64
	failovers      [numCauses]atomic.Uint64
	reports        atomic.Uint64
	reportFailures [numCauses]atomic.Uint64
	retries        atomic.Uint64
	breakerOpened  atomic.Uint64
	breaker        atomic.Int32
}

const numCauses = 7

var causeIndex = map[Cause]int{
	CauseTimeout: 0, CauseUnavailable: 1, CauseOverloaded: 2, CauseCircuitOpen: 3,
	CauseServerError: 4, CauseRejected: 5, CauseCanceled: 6,
}

func (c *counters) failover(cause Cause) { c.failovers[causeIndex[cause]].Add(1) }

// Stats returns the counters.
func (c *Client) Stats() Stats {
	s := Stats{
		Decisions: c.stats.decisions.Load(), Reports: c.stats.reports.Load(),
		Retries: c.stats.retries.Load(), BreakerOpened: c.stats.breakerOpened.Load(),
		Breaker:   BreakerState(c.stats.breaker.Load()),
		Failovers: map[Cause]uint64{}, ReportFailures: map[Cause]uint64{},
	}
	for cause, i := range causeIndex {
		if n := c.stats.failovers[i].Load(); n > 0 {
			s.Failovers[cause] = n
		}
		if n := c.stats.reportFailures[i].Load(); n > 0 {
			s.ReportFailures[cause] = n
		}
	}
	return s
}

func (c *Client) scored(start time.Time, tries int, d *Decision) {
	if d.Failover {
		c.stats.failover(d.Cause)
	} else {
		c.stats.decisions.Add(1)
	}
	if o := c.opts.Observer; o != nil {
		o.CallDone(Call{Op: "score", Duration: time.Since(start), Tries: tries, Cause: d.Cause, Action: d.Action, Failover: d.Failover})
	}
}

func (c *Client) reported(start time.Time, tries int, e *Error) {
	var cause Cause
	if e != nil {
		cause = e.Cause
		c.stats.reportFailures[causeIndex[cause]].Add(1)
	} else {
		c.stats.reports.Add(1)
	}
	if o := c.opts.Observer; o != nil {
		o.CallDone(Call{Op: "report", Duration: time.Since(start), Tries: tries, Cause: cause})
	}
}

// rateLimiter lets one event through per interval.
type rateLimiter struct{ next atomic.Int64 }

const warnInterval = 10 * time.Second

func (r *rateLimiter) allow(now time.Time) bool {
	n := r.next.Load()
	if now.UnixNano() < n {
		return false
	}
	return r.next.CompareAndSwap(n, now.Add(warnInterval).UnixNano())
}
