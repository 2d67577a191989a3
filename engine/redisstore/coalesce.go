package redisstore

import (
	"context"
	"sync"
	"time"
)

// Coalescing. Concurrent Observes on one Store go to Redis together: when
// a batch call is already in flight (up to maxInflight), an Observe waits
// for it to return and then goes, with every Observe that arrived in the
// meantime, in one script call (one per slot group on a cluster). Each
// Score still waits for exactly one round trip, and a lone Score goes at
// once, so latency does not grow; but under load Redis reads, parses and
// answers one request for many Scores, which is most of what a small
// request costs it. This is group commit, with no timer.

const (
	maxInflight = 2  // batch calls in flight at once
	maxBatch    = 16 // Observes in one batch
)

// member is one Observe waiting to be sent.
type member struct {
	r         *request
	ctx       context.Context
	deadline  time.Time // zero: none
	self      [1]*member
	fk        [1]flightKey
	keys      []flightKey
	done      chan struct{} // receives once the results are in r
	err       error
	sent      bool // taken into a batch
	abandoned bool // its caller gave up: the leader frees r
}

var members = sync.Pool{New: func() any {
	m := &member{done: make(chan struct{}, 1)}
	m.self[0] = m
	return m
}}

type coalescer struct {
	mu       sync.Mutex
	pending  []*member
	inflight int
}

// submit sends m's request in a batch and waits for it. On a nil error
// the results are in m.r. On an error the caller must not reuse m (nor
// m.r) when abandoned is reported: the batch still owns them.
func (s *Store) submit(ctx context.Context, m *member) (abandoned bool, err error) {
	m.ctx = ctx
	if d, ok := ctx.Deadline(); ok {
		m.deadline = d
	}
	c := &s.co
	c.mu.Lock()
	c.pending = append(c.pending, m)
	if c.inflight < maxInflight {
		c.inflight++
		batch := c.takeLocked()
		c.mu.Unlock()
		s.lead(batch)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-m.done:
		return false, m.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !m.sent {
		for i, p := range c.pending {
			if p == m {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				break
			}
		}
		return false, ctx.Err()
	}
	select {
	case <-m.done:
		return false, m.err
	default:
	}
	m.abandoned = true
	return true, ctx.Err()
}

func (c *coalescer) takeLocked() []*member {
	n := min(len(c.pending), maxBatch)
	var batch []*member
	if n == 1 {
		batch = c.pending[0].self[:]
	} else {
		batch = make([]*member, n)
	}
	copy(batch, c.pending)
	c.pending = append(c.pending[:0], c.pending[n:]...)
	for _, m := range batch {
		m.sent = true
	}
	return batch
}

// lead sends a batch, hands each member its results, and starts the next
// batch if Observes are waiting.
func (s *Store) lead(batch []*member) {
	s.send(batch)
	c := &s.co
	c.mu.Lock()
	for _, m := range batch {
		if m.abandoned {
			putRequest(m.r)
			putMember(m)
		} else {
			m.done <- struct{}{}
		}
	}
	if len(c.pending) == 0 {
		c.inflight--
		c.mu.Unlock()
		return
	}
	next := c.takeLocked()
	c.mu.Unlock()
	// The next batch goes from its own goroutine, so that this batch's
	// leader returns to its caller now.
	go s.lead(next)
}

// send runs the batch's items, with the buffered writes, as one request.
func (s *Store) send(batch []*member) {
	if len(batch) == 1 {
		// One Observe alone (no load): its own context and request, behind
		// the writes.
		m := batch[0]
		b, err := s.wb.take(m.ctx, m.keys)
		if err != nil {
			m.err = err
			return
		}
		r := getRequest()
		s.queueOps(r, b)
		base := len(r.items)
		r.append(m.r)
		_ = s.run(m.ctx, r, b)
		m.err = r.results(base, m.r)
		putRequest(r)
		return
	}
	// The batch may take until the latest of its members' deadlines: a
	// member that gives up earlier stops waiting, without failing the
	// others.
	var deadline time.Time
	var keys []flightKey
	for _, m := range batch {
		if m.deadline.IsZero() {
			deadline = time.Time{}
			break
		}
		if m.deadline.After(deadline) {
			deadline = m.deadline
		}
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(context.Background(), deadline)
	} else {
		ctx, cancel = context.WithTimeout(context.Background(), s.opts.FlushTimeout)
	}
	defer cancel()
	for _, m := range batch {
		keys = append(keys, m.keys...)
	}
	b, err := s.wb.take(ctx, keys)
	if err != nil {
		for _, m := range batch {
			m.err = err
		}
		return
	}
	r := getRequest()
	s.queueOps(r, b)
	bases := make([]int, len(batch))
	for i, m := range batch {
		bases[i] = len(r.items)
		r.append(m.r)
	}
	_ = s.run(ctx, r, b)
	for i, m := range batch {
		m.err = r.results(bases[i], m.r)
	}
	putRequest(r)
}

// append adds q's items to r.
func (r *request) append(q *request) {
	for i := range q.items {
		it := q.items[i]
		it.op = -1
		from := len(r.ops)
		r.ops = append(r.ops, q.ops[it.from:it.to]...)
		it.from, it.to = from, len(r.ops)
		r.items = append(r.items, it)
		r.keys = append(r.keys, q.keys[i])
	}
}

// results copies the results of q's items, at base in r, back to q, and
// returns the first error among them.
func (r *request) results(base int, q *request) error {
	var err error
	for i := range q.items {
		it := &r.items[base+i]
		q.items[i].res, q.items[i].aux, q.items[i].err = it.res, it.aux, it.err
		if err == nil {
			err = it.err
		}
	}
	return err
}

func getMember() *member {
	m := members.Get().(*member)
	return m
}

func putMember(m *member) {
	done := m.done
	select {
	case <-done:
	default:
	}
	*m = member{done: done}
	m.self[0] = m
	members.Put(m)
}
