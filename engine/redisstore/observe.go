package redisstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/riskgate/riskgate/engine"
)

// windowCalls are the script calls of one Observe or Record: one per slot
// group the event touches, all in one pipeline.
type windowCalls struct {
	user, account, ip, subnet, asn, password, tenant call
	list                                             [7]*call
	n                                                int
}

func (w *windowCalls) add(c *call) { w.list[w.n] = c; w.n++ }

func (w *windowCalls) calls() []*call { return w.list[:w.n] }

// member is what the distinct counts hold of a key: its first 48 bits in
// decimal, a number the scripts keep exactly (Lua numbers are doubles) in
// the small sets and add as such to the HyperLogLogs. Two of a million
// members share a fingerprint with odds of about one in 500.
func member(k *engine.Key) string {
	return strconv.FormatUint(binary.BigEndian.Uint64(k[:8])>>16, 10)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// build prepares the calls for ev. With read, the scripts return counts
// and the user's profile.
func (s *Store) build(ev *engine.Event, read bool, w *windowCalls) {
	t := strconv.FormatInt(ev.Time.Unix(), 10)
	r := flag(read)
	failed := flag(ev.Failed)
	username := ""
	if ev.Attempt && !ev.Username.IsZero() {
		username = member(&ev.Username)
	}
	backlog := strconv.Itoa(s.opts.MaxBacklog)

	// The user's profile and the account's failures share a slot when the
	// account is the known user, as it always is when a user is known.
	accountDone := false
	if read && !ev.User.IsZero() {
		af := "-1"
		if ev.Account == ev.User {
			af, accountDone = failed, true
		}
		w.user = call{sc: s.sc.user, args: []any{t, af, "1", r, backlog}}
		w.user.keys[0] = s.keys.user(ev.Tenant, ev.User)
		w.add(&w.user)
	}
	if !accountDone && !ev.Account.IsZero() && (ev.Failed || read) {
		w.account = call{sc: s.sc.user, args: []any{t, failed, "0", r, backlog}}
		w.account.keys[0] = s.keys.user(ev.Tenant, ev.Account)
		w.add(&w.account)
	}
	net := func(c *call, base string) {
		*c = call{sc: s.sc.net, args: []any{t, failed, username, r}}
		c.keys[0] = base
		w.add(c)
	}
	net(&w.ip, s.keys.addr(ev.Tenant, ev.IP))
	if ev.Subnet.IsValid() {
		net(&w.subnet, s.keys.subnet(ev.Tenant, ev.Subnet))
	}
	if ev.ASN != 0 {
		net(&w.asn, s.keys.asn(ev.Tenant, ev.ASN))
	}
	if !ev.Account.IsZero() && !ev.Password.IsZero() && ev.Attempt {
		w.password = call{sc: s.sc.password, args: []any{t, member(&ev.Account), r}}
		w.password.keys[0] = s.keys.password(ev.Tenant, ev.Password)
		w.add(&w.password)
	}
	w.tenant = call{sc: s.sc.tenant, args: []any{t, flag(ev.Attempt), failed, r}}
	w.tenant.keys[0] = s.keys.tenant(ev.Tenant)
	w.add(&w.tenant)
}

// Observe implements engine.Store: one pipeline carries the buffered
// writes and one script per slot group, which records ev and reads back
// the counts and the profile.
func (s *Store) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: observe: %w", err)
	}
	if s.closed.Load() {
		return fmt.Errorf("redisstore: observe: %w", errClosed)
	}
	var fk [1]flightKey
	keys := fk[:0]
	if !ev.User.IsZero() {
		keys = append(keys, flightKey{tenant: ev.Tenant, user: ev.User})
	}
	b, err := s.wb.take(ctx, keys)
	if err != nil {
		return s.wrap("observe", err)
	}
	var w windowCalls
	s.build(ev, true, &w)
	if err := s.exec(ctx, b, w.calls(), nil); err != nil {
		return s.wrap("observe", err)
	}
	c := &st.Counts
	var err2 error
	if w.user.cmd != nil {
		vals, err := w.user.cmd.Slice()
		if err != nil {
			return s.wrap("observe", err)
		}
		if len(vals) >= 5 {
			err2 = counts(vals[2:5], &c.AccountFailures)
		}
		has, err := s.fold(ev.Tenant, ev.User, vals, &st.Profile)
		if err != nil {
			return fmt.Errorf("redisstore: observe: %w", err)
		}
		st.HasProfile = has
	}
	if w.account.cmd != nil {
		err2 = firstErr(err2, slice(w.account.cmd, 2, 5, &c.AccountFailures))
	}
	err2 = firstErr(err2, netCounts(w.ip.cmd, &c.IP))
	if w.subnet.cmd != nil {
		err2 = firstErr(err2, netCounts(w.subnet.cmd, &c.Subnet))
	}
	if w.asn.cmd != nil {
		err2 = firstErr(err2, netCounts(w.asn.cmd, &c.ASN))
	}
	if w.password.cmd != nil {
		err2 = firstErr(err2, slice(w.password.cmd, 0, 3, &c.PasswordAccounts))
	}
	vals, err := w.tenant.cmd.Slice()
	if err == nil && len(vals) != 6 {
		err = fmt.Errorf("tenant script returned %d values", len(vals))
	}
	if err == nil {
		err = counts(vals[0:3], &c.TenantAttempts)
	}
	if err == nil {
		err = counts(vals[3:6], &c.TenantFailures)
	}
	if err = firstErr(err2, err); err != nil {
		return fmt.Errorf("redisstore: observe: %w", err)
	}
	return nil
}

// Record implements engine.Store: the same scripts without the reads, in
// one round trip. It is synchronous, unlike Commit: its failures matter to
// the windows the next Score reads, and it happens once per report.
func (s *Store) Record(ctx context.Context, ev *engine.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: record: %w", err)
	}
	if s.closed.Load() {
		return fmt.Errorf("redisstore: record: %w", errClosed)
	}
	b, err := s.wb.take(ctx, nil)
	if err != nil {
		return s.wrap("record", err)
	}
	var w windowCalls
	s.build(ev, false, &w)
	return s.wrap("record", s.exec(ctx, b, w.calls(), nil))
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func netCounts(c interface{ Slice() ([]any, error) }, out *engine.NetCounts) error {
	vals, err := c.Slice()
	if err != nil {
		return err
	}
	if len(vals) != 6 {
		return fmt.Errorf("window script returned %d values", len(vals))
	}
	if err := counts(vals[0:3], &out.Failures); err != nil {
		return err
	}
	return counts(vals[3:6], &out.Usernames)
}

func slice(c interface{ Slice() ([]any, error) }, from, to int, out *[3]uint32) error {
	vals, err := c.Slice()
	if err != nil {
		return err
	}
	if len(vals) < to {
		return fmt.Errorf("script returned %d values, want %d", len(vals), to)
	}
	return counts(vals[from:to], out)
}

func counts(vals []any, out *[3]uint32) error {
	for i := range out {
		n, ok := vals[i].(int64)
		if !ok || n < 0 {
			return fmt.Errorf("count %v (%T) is not a count", vals[i], vals[i])
		}
		out[i] = uint32(min(n, 1<<32-1))
	}
	return nil
}
