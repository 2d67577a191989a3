package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
)

// Write-behind. Commit's writes are not needed for the decision, so Commit
// only queues them; the next call that goes to Redis anyway carries them in
// its pipeline (a Score stays one round trip), and a background flush
// sends them after FlushInterval when no call comes.
//
// Visibility on the same Store: a call that reads what a Commit wrote (the
// user's profile, a pending decision) sends the queued writes ahead of its
// own commands in the same pipeline, and first waits for any pipeline
// already in flight that carries a write for the same user or decision.
// Pipelined commands to one key are executed in order (one connection per
// node), so the read sees the write.

type opKind uint8

const (
	opLearn opKind = iota + 1
	opPending
	opCompact
	opDecided
)

// op is one buffered write.
type op struct {
	kind   opKind
	tenant string
	user   engine.Key // learn, compact; pending when the user is known
	id     string     // pending: the decision id
	data   []byte     // learn: entry; pending: encoding; compact: new value
	// compact: the profile's expected write tag, the bytes of learned
	// logins folded, the offset and id of the last of them.
	tag     string
	n       int
	lastOff int
	lastID  string
}

// flightKey names what a read may depend on: a user's learned logins and
// pending decisions (id empty), or one pending decision (user zero).
type flightKey struct {
	tenant string
	user   engine.Key
	id     string
}

func (o *op) flightKeys(buf *[2]flightKey) []flightKey {
	switch o.kind {
	case opLearn:
		buf[0] = flightKey{tenant: o.tenant, user: o.user}
		return buf[:1]
	case opPending:
		buf[0] = flightKey{tenant: o.tenant, id: o.id}
		if o.user.IsZero() {
			return buf[:1]
		}
		buf[1] = flightKey{tenant: o.tenant, user: o.user}
		return buf[:2]
	}
	// A compaction changes no content, only its layout: nothing waits.
	return nil
}

// batch is a set of ops taken from the queue by one pipeline.
type batch struct {
	ops  []op
	done chan struct{}
}

type writeBehind struct {
	mu       sync.Mutex
	queue    []op
	inflight map[flightKey][]*batch
	kick     chan struct{}
	max      int
}

func (w *writeBehind) init(max int) {
	w.inflight = make(map[flightKey][]*batch)
	w.kick = make(chan struct{}, 1)
	w.max = max
}

// add queues o and reports whether the queue is full.
func (w *writeBehind) add(o op) bool {
	w.mu.Lock()
	w.queue = append(w.queue, o)
	n := len(w.queue)
	w.mu.Unlock()
	if n == 1 {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return n >= w.max
}

func (w *writeBehind) pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue) > 0
}

// take waits until no pipeline carrying a write for keys is in flight,
// then takes the whole queue (nil when empty). The caller must finish the
// batch.
func (w *writeBehind) take(ctx context.Context, keys []flightKey) (*batch, error) {
	for {
		w.mu.Lock()
		var wait *batch
		for _, k := range keys {
			if bs := w.inflight[k]; len(bs) > 0 {
				wait = bs[0]
				break
			}
		}
		if wait == nil {
			b := w.takeLocked()
			w.mu.Unlock()
			return b, nil
		}
		w.mu.Unlock()
		select {
		case <-wait.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (w *writeBehind) takeLocked() *batch {
	if len(w.queue) == 0 {
		return nil
	}
	b := &batch{ops: w.queue, done: make(chan struct{})}
	w.queue = nil
	var buf [2]flightKey
	for i := range b.ops {
		for _, k := range b.ops[i].flightKeys(&buf) {
			w.inflight[k] = append(w.inflight[k], b)
		}
	}
	return b
}

// finish marks b as no longer in flight.
func (w *writeBehind) finish(b *batch) {
	if b == nil {
		return
	}
	w.mu.Lock()
	var buf [2]flightKey
	for i := range b.ops {
		for _, k := range b.ops[i].flightKeys(&buf) {
			bs := w.inflight[k]
			for j := range bs {
				if bs[j] == b {
					bs = append(bs[:j], bs[j+1:]...)
					break
				}
			}
			if len(bs) == 0 {
				delete(w.inflight, k)
			} else {
				w.inflight[k] = bs
			}
		}
	}
	w.mu.Unlock()
	close(b.done)
}

// idLen is the length of the random id in front of a learned login, and of
// the write tag in front of a profile value.
const idLen = 8

func randomID(b []byte) []byte { return binary.LittleEndian.AppendUint64(b, rand.Uint64()) }

// Commit implements engine.Store. It queues the writes and returns; see
// the package documentation.
func (s *Store) Commit(ctx context.Context, c *engine.Commit) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: commit: %w", err)
	}
	if err := s.usable("commit"); err != nil {
		return err
	}
	full := false
	if l := c.Learn; l != nil && !l.User.IsZero() {
		// The entry as the account value holds it: its length, an id, the
		// login.
		entry := encodeLogin(randomID(make([]byte, 4, 160)), l)
		put32(entry, uint32(len(entry)-4))
		full = s.wb.add(op{kind: opLearn, tenant: l.Tenant, user: l.User, data: entry})
	}
	if d := c.Decided; d != nil && !d.AttemptID.IsZero() {
		full = s.wb.add(op{kind: opDecided, tenant: d.Tenant, user: d.AttemptID, data: append([]byte(nil), d.Record...)}) || full
	}
	if p := c.Pending; p != nil {
		full = s.wb.add(op{kind: opPending, tenant: p.Event.Tenant, user: p.Login.User, id: p.DecisionID, data: encodePending(nil, p)}) || full
	}
	if full {
		// Backpressure: Redis is slower than the commits coming in.
		return s.wrap("commit", s.flush(ctx))
	}
	return nil
}

// flusher sends queued writes that no call carried within FlushInterval,
// and tenant counts that no call carried within TenantFlushInterval.
func (s *Store) flusher() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	tick := time.NewTicker(s.opts.TenantFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.FlushTimeout)
			if err := s.flushTenants(ctx, false); err != nil {
				s.logBackground("redisstore: tenant counts flush failed; counts lost", s.classify(err))
			}
			cancel()
			continue
		case <-s.wb.kick:
		}
		t.Reset(s.opts.FlushInterval)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.FlushTimeout)
		if err := s.flush(ctx); err != nil {
			s.logBackground("redisstore: background flush failed; buffered writes lost", s.classify(err))
		}
		cancel()
	}
}

// flush sends the queued writes in one round trip.
func (s *Store) flush(ctx context.Context) error {
	b, err := s.wb.take(ctx, nil)
	if err != nil || b == nil {
		return err
	}
	s.stats.flushes.Add(1)
	r := getRequest()
	defer putRequest(r)
	s.queueOps(r, b)
	return s.run(ctx, r, b)
}

// queueOps adds the batch's writes to r, ahead of the call's own items.
func (s *Store) queueOps(r *request, b *batch) {
	if b == nil {
		return
	}
	now := time.Now().Unix()
	profileTTL := int64(s.opts.ProfileTTL / time.Second)
	pendingTTL := int64(s.opts.PendingTTL / time.Second)
	for i := range b.ops {
		o := &b.ops[i]
		switch o.kind {
		case opLearn:
			r.add(kindLearn, s.keys.user(o.tenant, o.user, sufProfile))
			r.num(profileTTL)
			if s.ttl.refresh(o.tenant, &o.user, now) {
				r.u8(1)
			} else {
				r.u8(0)
			}
			r.u16(uint16(s.opts.MaxBacklog))
			r.u32(uint32(s.opts.MaxBacklog) * 160)
			r.u32(uint32(len(o.data)))
			r.bytes(o.data)
			r.items[r.end()].op = i
		case opPending:
			r.add(kindPending, s.keys.pending(o.tenant, o.id))
			r.num(pendingTTL)
			r.u32(uint32(len(o.data)))
			r.bytes(o.data)
			r.items[r.end()].op = i
			if !o.user.IsZero() {
				// The user's pending ids, for Forget. Scored by expiry so
				// that expired ids are trimmed as new ones come (for
				// about one in six: lua/batch.lua).
				r.add(kindPendIdx, s.keys.user(o.tenant, o.user, ""))
				r.num(now + pendingTTL)
				r.sstr("(" + strconv.FormatInt(now, 10))
				r.num(pendingTTL)
				r.sstr(o.id)
				r.items[r.end()].op = i
			}
		case opDecided:
			// The attempt's key, remembered by its Observe, gets the
			// record with the key's own time to live, unless its user
			// was erased since.
			r.add(kindDecided, s.keys.attempt(o.tenant, o.user))
			r.u32(uint32(len(o.data)))
			r.bytes(o.data)
			r.items[r.end()].op = i
		case opCompact:
			r.add(kindCompact, s.keys.user(o.tenant, o.user, sufProfile))
			r.num(profileTTL)
			r.sstr(o.tag)
			r.u32(uint32(o.n))
			r.u32(uint32(o.lastOff))
			r.str(o.lastID)
			r.u32(uint32(len(o.data)))
			r.bytes(o.data)
			r.items[r.end()].op = i
		}
	}
}

// countOps records what became of a batch's writes. They are not retried:
// after a timeout the server may have applied them, and applying a learned
// login twice would count it twice.
func (s *Store) countOps(r *request, b *batch, execErr error) {
	failed := 0
	var first error
	for i := range r.items {
		it := &r.items[i]
		if it.op < 0 {
			continue
		}
		if it.err != nil {
			failed++
			first = it.err
		} else if it.kind == kindCompact && it.res == "1" {
			s.stats.compactions.Add(1)
		}
	}
	if failed == 0 {
		return
	}
	if execErr != nil && !isRedisReply(execErr) {
		s.stats.dropped.Add(uint64(len(b.ops)))
	} else {
		s.stats.writeErrors.Add(uint64(failed))
	}
	s.logBackground("redisstore: buffered writes failed", s.classify(first))
}

func isRedisReply(err error) bool {
	var rerr redis.Error
	return err != nil && !isNetErr(err) && errors.As(err, &rerr)
}
