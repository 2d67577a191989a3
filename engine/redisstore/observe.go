package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// subjects are the items of one Observe or Record, by what they count.
type subjects struct {
	user, account, ip, subnet, asn, password int
}

// fingerprint is what the distinct counts hold of a key: its first 48
// bits. Two of a million members share one with odds of about one in 500.
func fingerprint(r *request, k *engine.Key) { r.ops = append(r.ops, k[:6]...) }

var noMember [6]byte

// ranges appends what a distinct count's script needs at time t: the
// bucket number of the finest window, then, behind their length (the
// script reads them only for a sorted set), the same as a string and for
// each window the range of such bucket numbers it covers.
func (r *request) ranges(sp *engine.Windows, t int64) {
	w0 := sp[0].Width
	r.u32(uint32(t / w0))
	at := len(r.ops)
	r.u8(0)
	r.num(t / w0)
	for i := range sp {
		ratio := sp[i].Width / w0
		idx := t / sp[i].Width
		r.num((idx - sp[i].Buckets + 1) * ratio)
		r.num((idx+1)*ratio - 1)
	}
	r.ops[at] = byte(len(r.ops) - at - 1)
}

// build adds ev's items to r. With read, the items return the counts and
// the user's profile. With gated (a redelivered attempt), they are read
// without counting anything: as the script does for the items after a
// KIND_ATTEMPT item that found its attempt.
func (s *Store) build(r *request, ev *engine.Event, read, gated bool) subjects {
	t := unixU32(ev.Time.Unix())
	wall := unixU32(time.Now().Unix())
	failed := ev.Failed && !gated
	var fl byte
	if failed {
		fl |= 1
	}
	if read {
		fl |= 2
	}
	sub := subjects{-1, -1, -1, -1, -1, -1}
	account := func(key string, failed, index bool) int {
		var f byte
		if failed {
			f |= 1
		}
		if read {
			f |= 2
		}
		if index {
			f |= flagIndexAttempt
		}
		r.add(kindAccount, key)
		r.u32(t)
		r.u8(f)
		if index {
			// The attempt id, indexed under the user until it expires
			// (scored by its expiry; the expired ones trimmed).
			window := int64(s.opts.AttemptWindow / time.Second)
			r.num(window)
			r.num(int64(wall) + window)
			at := len(r.ops)
			r.ops = append(r.ops, 0, '(')
			r.ops = strconv.AppendInt(r.ops, int64(wall), 10)
			r.ops[at] = byte(len(r.ops) - at - 1)
			r.bytes(ev.AttemptID[:])
		}
		i := r.end()
		r.items[i].whole = read
		return i
	}
	// The user's profile and the account's failures are one key when the
	// account is the known user, as it always is when a user is known.
	// An attempt with an id is the user's: indexed there for Forget.
	if read && !ev.User.IsZero() {
		sub.user = account(s.keys.user(ev.Tenant, ev.User, sufProfile), failed && ev.Account == ev.User, !gated && !ev.AttemptID.IsZero())
	}
	if !ev.Account.IsZero() && (ev.Failed || read) && !(sub.user >= 0 && ev.Account == ev.User) {
		sub.account = account(s.keys.user(ev.Tenant, ev.Account, sufProfile), failed, false)
	}
	net := func(key string) int {
		r.add(kindNet, key)
		r.u32(t)
		r.u8(fl)
		if ev.Attempt && !gated && !ev.Username.IsZero() {
			fingerprint(r, &ev.Username)
		} else {
			r.bytes(noMember[:])
		}
		r.u32(wall)
		r.ranges(&shortSpec, int64(t))
		return r.end()
	}
	sub.ip = net(s.keys.addr(ev.Tenant, ev.IP, sufWindows))
	if ev.Subnet.IsValid() {
		sub.subnet = net(s.keys.subnet(ev.Tenant, ev.Subnet, sufWindows))
	}
	if ev.ASN != 0 {
		sub.asn = net(s.keys.asn(ev.Tenant, ev.ASN, sufWindows))
	}
	if !ev.Account.IsZero() && !ev.Password.IsZero() && ev.Attempt {
		r.add(kindPassword, s.keys.password(ev.Tenant, ev.Password, sufWindows))
		r.u32(t)
		r.u8(fl &^ 1)
		if gated {
			r.bytes(noMember[:])
		} else {
			fingerprint(r, &ev.Account)
		}
		r.u32(wall)
		r.ranges(&longSpec, int64(t))
		sub.password = r.end()
	}
	return sub
}

// Observe implements engine.Store: one round trip carries the buffered
// writes and the attempt's items, which record ev and read back the
// counts and the profile.
func (s *Store) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: observe: %w", err)
	}
	if err := s.usable("observe"); err != nil {
		return err
	}
	r := getRequest()
	m := getMember()
	m.r = r
	if !ev.User.IsZero() {
		m.fk[0] = flightKey{tenant: ev.Tenant, user: ev.User}
		m.keys = m.fk[:1]
	}
	// An attempt id goes first: on a single server the script reads the
	// items after it without counting when the attempt was seen before,
	// in the same call. On a cluster those items may live on other nodes:
	// the attempt is looked up first, one more round trip.
	att, gated := -1, false
	if !ev.AttemptID.IsZero() {
		if s.cluster {
			replayed, err := s.seenAttempt(ctx, ev, st)
			if err != nil {
				putRequest(r)
				putMember(m)
				return s.wrap("observe", err)
			}
			gated = replayed
		} else {
			att = s.attemptItem(r, ev)
		}
	}
	sub := s.build(r, ev, true, gated)
	if att >= 0 {
		r.ops[r.items[att].to-1] = byte(len(r.items) - att - 1)
	}
	now := time.Now()
	tf, flush := s.tenants.flushItem(r, s, ev.Tenant, now, false)
	abandoned, err := s.submit(ctx, m)
	if flush {
		s.tenants.flushed(r, tf, err == nil)
	}
	if abandoned {
		// The batch still owns r and m.
		return s.wrap("observe", err)
	}
	defer putRequest(r)
	defer putMember(m)
	if err != nil {
		return s.wrap("observe", err)
	}
	if att >= 0 {
		gated, err = attemptResult(r.items[att].res, st)
		if err != nil {
			return fmt.Errorf("redisstore: observe: %w", err)
		}
	}
	if gated {
		// A redelivery: nothing of it was counted, nothing is added.
		ro := *ev
		ro.Attempt, ro.Failed = false, false
		ev = &ro
	}
	s.tenants.add(ev, &st.Counts, now)
	t := ev.Time.Unix()
	c := &st.Counts
	if sub.user >= 0 {
		failures := &c.AccountFailures
		if ev.Account != ev.User {
			failures = nil
		}
		it := &r.items[sub.user]
		add := ev.Failed && ev.Account == ev.User && it.aux == "\x00"
		has, err := s.fold(ev.Tenant, ev.User, it.res, &st.Profile, false, t, add, failures)
		if err != nil {
			return fmt.Errorf("redisstore: observe: %w", err)
		}
		st.HasProfile = has
	}
	var errs error
	if sub.account >= 0 {
		it := &r.items[sub.account]
		_, errs = accountValue(it.res, t, ev.Failed && it.aux == "\x00", &c.AccountFailures)
		if errs != nil {
			errs = fmt.Errorf("account: %w", errs)
		}
	}
	for _, n := range [...]struct {
		i   int
		out *engine.NetCounts
	}{{sub.ip, &c.IP}, {sub.subnet, &c.Subnet}, {sub.asn, &c.ASN}} {
		if n.i >= 0 {
			errs = firstErr(errs, countState(r.items[n.i].res, &shortSpec, &shortSpec, t, ev.Failed, &n.out.Failures, &n.out.Usernames))
		}
	}
	if sub.password >= 0 {
		errs = firstErr(errs, countState(r.items[sub.password].res, nil, &longSpec, t, false, nil, &c.PasswordAccounts))
	}
	if errs != nil {
		return fmt.Errorf("redisstore: observe: %w", errs)
	}
	return nil
}

// Record implements engine.Store: the same items without the reads, in
// one round trip. It is synchronous, unlike Commit: its failures matter to
// the windows the next Score reads, and it happens once per report.
func (s *Store) Record(ctx context.Context, ev *engine.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: record: %w", err)
	}
	if err := s.usable("record"); err != nil {
		return err
	}
	b, err := s.wb.take(ctx, nil)
	if err != nil {
		return s.wrap("record", err)
	}
	r := getRequest()
	defer putRequest(r)
	s.queueOps(r, b)
	s.build(r, ev, false, false)
	now := time.Now()
	tf, flush := s.tenants.flushItem(r, s, ev.Tenant, now, false)
	err = s.run(ctx, r, b)
	if flush {
		s.tenants.flushed(r, tf, err == nil)
	}
	if err != nil {
		return s.wrap("record", err)
	}
	s.tenants.add(ev, nil, now)
	return nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// attemptItem adds the item remembering ev's attempt id; the caller sets
// its last byte to the number of items after it that it gates.
func (s *Store) attemptItem(r *request, ev *engine.Event) int {
	r.add(kindAttempt, s.keys.attempt(ev.Tenant, ev.AttemptID))
	r.num(int64(s.opts.AttemptWindow / time.Second))
	r.u8(0)
	return r.end()
}

// attemptResult reads an attempt item's result: whether the attempt was
// seen before, and then its decision's record, into st, or that the
// attempt's user was erased since (erasedMark).
func attemptResult(res string, st *engine.State) (replayed bool, err error) {
	switch {
	case res == "\x00":
		return false, nil
	case len(res) >= 1 && res[0] == 1 && res[1:] == erasedMark:
		st.Replayed, st.Erased = true, true
		st.Decided = st.Decided[:0]
		return true, nil
	case len(res) >= 1 && res[0] == 1:
		st.Replayed = true
		st.Decided = append(st.Decided[:0], res[1:]...)
		return true, nil
	}
	return false, fmt.Errorf("attempt item: unexpected result of %d bytes", len(res))
}

// seenAttempt looks ev's attempt id up on its own (a cluster), remembering
// it when new. The queued writes go with it: a decision committed here
// is seen.
func (s *Store) seenAttempt(ctx context.Context, ev *engine.Event, st *engine.State) (bool, error) {
	b, err := s.wb.take(ctx, nil)
	if err != nil {
		return false, err
	}
	r := getRequest()
	defer putRequest(r)
	s.queueOps(r, b)
	i := s.attemptItem(r, ev)
	if err := s.run(ctx, r, b); err != nil {
		return false, err
	}
	return attemptResult(r.items[i].res, st)
}
