package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/riskgate/riskgate/engine"
)

// Accounts. Everything held on an account is one string,
// <base>:profile, read whole by one GET:
//
//	flags byte (1: failure rings present)
//	the account's failure rings (longSpec), when present
//	uint32 length, then the profile: a random 8-byte write tag and
//	    encodeProfile (length 0: none yet)
//	learned logins not yet folded into the profile, each a uint32 length,
//	    then a random 8-byte id and encodeLogin
//
// Learning appends a login (APPEND: blind, so concurrent learners on any
// number of nodes never lose one and need no read first). A reader folds
// the appended logins into the profile with engine.Profile.Learn, the one
// learning code, and once there are Options.CompactBacklog of them queues
// a compaction: a compare-and-set that replaces the profile and the
// logins it folded, provided the profile's tag and the last folded login
// are still what it read, so that a concurrent compaction or a Forget
// makes it a no-op instead of losing or resurrecting logins. Until then
// every read folds the few logins again, which is cheaper than rewriting
// the profile after each.

// account is an account value, parsed.
type account struct {
	tag     string // the profile's write tag; "" when there is no profile
	profile string // encodeProfile
	entries string // the learned logins, each behind its length
}

// accountValue parses v and, when failures is not nil, sums its failure
// windows at t, after adding a failure at t when add (the script wrote it
// in place: the value it returned is from before).
func accountValue(v string, t int64, add bool, failures *[3]uint32) (account, error) {
	var a account
	if failures != nil {
		*failures = [3]uint32{}
	}
	if v == "" {
		return a, nil
	}
	off := 1
	if v[0]&flagRings != 0 {
		rs := ringSize(&longSpec)
		if len(v) < 1+rs {
			return a, fmt.Errorf("%w: account of %d bytes", errState, len(v))
		}
		if failures != nil {
			sumRings(v[1:1+rs], &longSpec, t, add, failures)
		}
		off += rs
	}
	if len(v) < off+4 {
		return a, fmt.Errorf("%w: account of %d bytes", errState, len(v))
	}
	pl := int(be32(v[off:]))
	off += 4
	if pl > len(v)-off || pl != 0 && pl < idLen {
		return a, fmt.Errorf("%w: profile of %d bytes", errState, pl)
	}
	if pl > 0 {
		a.tag, a.profile = v[off:off+idLen], v[off+idLen:off+pl]
	}
	a.entries = v[off+pl:]
	return a, nil
}

// fold decodes an account value into p (and failures, when not nil) and,
// when there are at least Options.CompactBacklog logins to fold (or any,
// with always), queues the compaction.
func (s *Store) fold(tenant string, user engine.Key, v string, p *engine.Profile, always bool, t int64, add bool, failures *[3]uint32) (bool, error) {
	a, err := accountValue(v, t, add, failures)
	if err != nil {
		return false, err
	}
	has := false
	p.CopyFrom(&engine.Profile{}) // empty, keeping the slices' capacity
	if a.tag != "" {
		// A profile this version cannot decode (corrupt, or written by a
		// newer one) is an error rather than a fresh start: the next
		// compaction would overwrite it.
		if err := decodeProfileString(a.profile, p); err != nil {
			return false, err
		}
		has = true
	}
	var l engine.Login
	lastID, lastOff, folded := "", 0, 0
	for off := 0; off < len(a.entries); {
		if len(a.entries)-off < 4 {
			return false, errors.New("truncated learned logins")
		}
		n := int(be32(a.entries[off:]))
		if n > len(a.entries)-off-4 || n < idLen {
			return false, fmt.Errorf("learned login of %d bytes", n)
		}
		entry := a.entries[off+4 : off+4+n]
		if err := decodeLoginString(entry[idLen:], &l); err != nil {
			return false, err
		}
		p.Learn(&l)
		lastID, lastOff, folded = entry[:idLen], off, folded+1
		off += 4 + n
		has = true
	}
	if folded > 0 && (always || folded >= s.opts.CompactBacklog) {
		val := randomID(make([]byte, 0, 256))
		val = encodeProfile(val, p)
		s.wb.add(op{kind: opCompact, tenant: tenant, user: user, tag: a.tag, n: len(a.entries), lastOff: lastOff, lastID: lastID, data: val})
	}
	return has, nil
}

// Profile implements engine.Store. It folds the learned logins into the
// stored profile, however few.
func (s *Store) Profile(ctx context.Context, tenant string, user engine.Key) (engine.Profile, bool, error) {
	var p engine.Profile
	if err := ctx.Err(); err != nil {
		return p, false, fmt.Errorf("redisstore: profile: %w", err)
	}
	if err := s.usable("profile"); err != nil {
		return p, false, err
	}
	b, err := s.wb.take(ctx, []flightKey{{tenant: tenant, user: user}})
	if err != nil {
		return p, false, s.wrap("profile", err)
	}
	r := getRequest()
	defer putRequest(r)
	s.queueOps(r, b)
	r.add(kindAccount, s.keys.user(tenant, user, sufProfile))
	r.u32(1)
	r.u8(2)
	i := r.end()
	r.items[i].whole = true
	if err := s.run(ctx, r, b); err != nil {
		return p, false, s.wrap("profile", err)
	}
	has, err := s.fold(tenant, user, r.items[i].res, &p, true, 0, false, nil)
	if err != nil {
		return engine.Profile{}, false, fmt.Errorf("redisstore: profile: %w", err)
	}
	return p, has, nil
}

// TakePending implements engine.Store with GETDEL: of two concurrent
// reports of one decision, exactly one gets it.
func (s *Store) TakePending(ctx context.Context, tenant, decisionID string) (engine.Pending, bool, error) {
	var p engine.Pending
	if err := ctx.Err(); err != nil {
		return p, false, fmt.Errorf("redisstore: take pending: %w", err)
	}
	if err := s.usable("take pending"); err != nil {
		return p, false, err
	}
	b, err := s.wb.take(ctx, []flightKey{{tenant: tenant, id: decisionID}})
	if err != nil {
		return p, false, s.wrap("take pending", err)
	}
	r := getRequest()
	defer putRequest(r)
	s.queueOps(r, b)
	r.add(kindTake, s.keys.pending(tenant, decisionID))
	i := r.end()
	if err := s.run(ctx, r, b); err != nil {
		return p, false, s.wrap("take pending", err)
	}
	res := r.items[i].res
	if res == "" || res[0] != '1' {
		return p, false, nil
	}
	if err := decodePending([]byte(res[1:]), &p); err != nil {
		return engine.Pending{}, false, fmt.Errorf("redisstore: take pending: %w", err)
	}
	return p, true, nil
}

// Forget implements engine.Store: the profile, its learned logins, the
// account's failure windows and the user's pending decisions are deleted,
// and the decisions kept for the user's recent attempts (those indexed
// under the user by their Observe) are erased, each attempt id keeping
// only erasedMark until its time to live ends. Two round trips: the
// pending decisions and the attempts live in their own slots. Distinct
// counts keep the user's keyed hash among others in their HyperLogLogs,
// which cannot remove a member; it expires with them.
//
// The user's two indexes (of pending decisions, of attempts) are deleted
// last, once what they name is erased: at the end of the second round
// trip's one script call on a single server, in a third round trip on a
// cluster (whose second is one call per slot, some of which may fail
// while others succeed). A Forget that fails half way (a node down, the
// store's timeout) is an error, and leaves the indexes for the Forget
// sent again, which would otherwise find nothing more to erase and
// answer success.
//
// Attempts observed by a node of a version before the index have none:
// their decisions expire with the attempt window.
func (s *Store) Forget(ctx context.Context, tenant string, user engine.Key) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: forget: %w", err)
	}
	if err := s.usable("forget"); err != nil {
		return err
	}
	// Buffered learns and pending decisions of the user go out first, so
	// that the erasure also covers them.
	b, err := s.wb.take(ctx, []flightKey{{tenant: tenant, user: user}})
	if err != nil {
		return s.wrap("forget", err)
	}
	r := getRequest()
	defer putRequest(r)
	s.queueOps(r, b)
	r.add(kindForget, s.keys.user(tenant, user, ""))
	i := r.end()
	if err := s.run(ctx, r, b); err != nil {
		return s.wrap("forget", err)
	}
	res := r.items[i].res
	r2 := getRequest()
	defer putRequest(r2)
	if len(res) < 4 {
		return fmt.Errorf("redisstore: forget: truncated reply")
	}
	pending := int(be32(res))
	res = res[4:]
	for range pending {
		if len(res) < 4 || int(be32(res)) > len(res)-4 {
			return fmt.Errorf("redisstore: forget: truncated reply")
		}
		n := int(be32(res))
		r2.add(kindDelete, s.keys.pending(tenant, res[4:4+n]))
		r2.end()
		res = res[4+n:]
	}
	var id engine.Key
	if len(res)%len(id) != 0 {
		return fmt.Errorf("redisstore: forget: attempt ids of %d bytes", len(res))
	}
	for ; len(res) > 0; res = res[len(id):] {
		copy(id[:], res)
		r2.add(kindErase, s.keys.attempt(tenant, id))
		r2.end()
	}
	if len(r2.items) == 0 {
		return nil // no index named anything: there are none
	}
	unindex := func(r *request) {
		for _, suf := range []string{sufPending, sufAttempts} {
			r.add(kindDelete, s.keys.user(tenant, user, suf))
			r.end()
		}
	}
	if !s.cluster {
		unindex(r2) // after the erasures, in the same script call
		return s.wrap("forget", s.run(ctx, r2, nil))
	}
	if err := s.run(ctx, r2, nil); err != nil {
		return s.wrap("forget", err)
	}
	r3 := getRequest()
	defer putRequest(r3)
	unindex(r3)
	return s.wrap("forget", s.run(ctx, r3, nil))
}
