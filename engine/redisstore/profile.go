package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
)

// Profiles. A profile is a string (a random 8-byte write tag, then
// engine.AppendProfile) and a list of completed logins not yet folded into
// it. Learning appends to the list: a blind RPUSH, so concurrent learners
// on any number of nodes never lose a login and need no read first. A
// reader folds the list into the profile with engine.Profile.Learn, the
// one learning code, and queues a compaction: a compare-and-set script
// that stores the folded profile and trims the folded logins, provided the
// profile's tag and the last folded login are still what it read. So the
// list stays short (it is folded at the user's next Score) and no write is
// ever lost or applied twice.

// fold decodes the user script's reply (profile value, learned logins)
// into p and queues the compaction when there were logins to fold.
func (s *Store) fold(tenant string, user engine.Key, vals []any, p *engine.Profile) (bool, error) {
	if len(vals) < 2 {
		return false, fmt.Errorf("user script returned %d values", len(vals))
	}
	val, _ := vals[0].(string)
	entries, _ := vals[1].([]any)
	has, tag := false, ""
	p.CopyFrom(&engine.Profile{}) // empty, keeping the slices' capacity
	if val != "" {
		if len(val) < idLen {
			return false, fmt.Errorf("profile value of %d bytes", len(val))
		}
		tag = val[:idLen]
		// A profile this version cannot decode (corrupt, or written by a
		// newer one) is an error rather than a fresh start: the next
		// compaction would overwrite it.
		if err := engine.UnmarshalProfile([]byte(val[idLen:]), p); err != nil {
			return false, err
		}
		has = true
	}
	var l engine.Login
	lastID, n := "", 0
	for _, e := range entries {
		entry, _ := e.(string)
		if len(entry) < idLen {
			return false, fmt.Errorf("learned login of %d bytes", len(entry))
		}
		if err := engine.UnmarshalLogin([]byte(entry[idLen:]), &l); err != nil {
			return false, err
		}
		p.Learn(&l)
		lastID, n = entry[:idLen], n+1
		has = true
	}
	if n > 0 {
		v := randomID(make([]byte, 0, 256))
		v = engine.AppendProfile(v, p)
		s.wb.add(op{kind: opCompact, tenant: tenant, user: user, tag: tag, n: n, lastID: lastID, data: v})
	}
	return has, nil
}

// Profile implements engine.Store.
func (s *Store) Profile(ctx context.Context, tenant string, user engine.Key) (engine.Profile, bool, error) {
	var p engine.Profile
	if err := ctx.Err(); err != nil {
		return p, false, fmt.Errorf("redisstore: profile: %w", err)
	}
	if s.closed.Load() {
		return p, false, fmt.Errorf("redisstore: profile: %w", errClosed)
	}
	b, err := s.wb.take(ctx, []flightKey{{tenant: tenant, user: user}})
	if err != nil {
		return p, false, s.wrap("profile", err)
	}
	c := &call{sc: s.sc.user, args: []any{0, "-1", "1", "0", s.opts.MaxBacklog}}
	c.keys[0] = s.keys.user(tenant, user)
	if err := s.exec(ctx, b, []*call{c}, nil); err != nil {
		return p, false, s.wrap("profile", err)
	}
	vals, err := c.cmd.Slice()
	if err != nil {
		return p, false, s.wrap("profile", err)
	}
	has, err := s.fold(tenant, user, vals, &p)
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
	if s.closed.Load() {
		return p, false, fmt.Errorf("redisstore: take pending: %w", errClosed)
	}
	b, err := s.wb.take(ctx, []flightKey{{tenant: tenant, id: decisionID}})
	if err != nil {
		return p, false, s.wrap("take pending", err)
	}
	var get *redis.StringCmd
	err = s.exec(ctx, b, nil, func(pipe redis.Pipeliner) {
		get = pipe.GetDel(ctx, s.keys.pending(tenant, decisionID))
	})
	if err == nil {
		err = get.Err()
	}
	if errors.Is(err, redis.Nil) {
		return p, false, nil
	}
	if err != nil {
		return p, false, s.wrap("take pending", err)
	}
	raw, _ := get.Bytes()
	if err := engine.UnmarshalPending(raw, &p); err != nil {
		return engine.Pending{}, false, fmt.Errorf("redisstore: take pending: %w", err)
	}
	return p, true, nil
}

// Forget implements engine.Store: the profile, its learned logins, the
// account's failure windows and the user's pending decisions are deleted.
// Two round trips: the pending decisions live in their own slots.
// Distinct counts keep the user's keyed hash among others in their
// HyperLogLogs, which cannot remove a member; it expires with them.
func (s *Store) Forget(ctx context.Context, tenant string, user engine.Key) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: forget: %w", err)
	}
	if s.closed.Load() {
		return fmt.Errorf("redisstore: forget: %w", errClosed)
	}
	// Buffered learns and pending decisions of the user go out first, so
	// that the erasure also covers them.
	b, err := s.wb.take(ctx, []flightKey{{tenant: tenant, user: user}})
	if err != nil {
		return s.wrap("forget", err)
	}
	c := &call{sc: s.sc.forget}
	c.keys[0] = s.keys.user(tenant, user)
	if err := s.exec(ctx, b, []*call{c}, nil); err != nil {
		return s.wrap("forget", err)
	}
	ids, err := c.cmd.StringSlice()
	if err != nil {
		return s.wrap("forget", err)
	}
	if len(ids) == 0 {
		return nil
	}
	var dels []*redis.IntCmd
	err = s.exec(ctx, nil, nil, func(pipe redis.Pipeliner) {
		for _, id := range ids {
			dels = append(dels, pipe.Del(ctx, s.keys.pending(tenant, id)))
		}
	})
	for _, d := range dels {
		err = firstErr(err, d.Err())
	}
	return s.wrap("forget", err)
}
