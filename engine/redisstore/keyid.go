package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
)

// The key id (engine.Keyer.ID: the key scheme and a fingerprint of the
// HMAC secret) is kept in one plain string key beside the state,
// <prefix>keyid, written once with SET NX and read at start
// (engine.KeyerFor): a node started with another secret would otherwise
// find every user unknown and learn the whole population again, silently.

var _ engine.KeyIDKeeper = (*Store)(nil)

func (s *Store) keyIDKey() string { return s.opts.KeyPrefix + "keyid" }

// KeyID implements engine.KeyIDKeeper. empty is true when no key with the
// store's prefix exists, so an unrecorded ID means a new store rather than
// state written before IDs were recorded.
func (s *Store) KeyID(ctx context.Context) (id string, empty bool, err error) {
	id, err = s.rdb.Get(ctx, s.keyIDKey()).Result()
	switch {
	case err == nil:
		return id, false, nil
	case !errors.Is(err, redis.Nil):
		return "", false, fmt.Errorf("redisstore: key id: %w", s.classify(err))
	}
	found, err := s.anyKey(ctx)
	if err != nil {
		return "", false, fmt.Errorf("redisstore: looking for state: %w", s.classify(err))
	}
	if found {
		// State without a key id: written before key ids were recorded,
		// or a server that lost its data while a node kept writing. The
		// running nodes record their id again within KeyIDInterval
		// (KeepKeyID): wait for them rather than guess.
		return s.awaitKeyID(ctx)
	}
	return "", true, nil
}

// awaitKeyID polls the key id for two KeyIDIntervals, and returns the one
// recorded meanwhile, or none.
func (s *Store) awaitKeyID(ctx context.Context) (string, bool, error) {
	deadline := time.Now().Add(2 * s.opts.KeyIDInterval)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return "", false, fmt.Errorf("redisstore: key id: %w", ctx.Err())
		case <-time.After(s.opts.KeyIDInterval / 10):
		}
		id, err := s.rdb.Get(ctx, s.keyIDKey()).Result()
		switch {
		case err == nil:
			return id, false, nil
		case !errors.Is(err, redis.Nil):
			return "", false, fmt.Errorf("redisstore: key id: %w", s.classify(err))
		}
	}
	return "", false, nil
}

// keyIDKeeper keeps a node's key id recorded (KeepKeyID).
type keyIDKeeper struct {
	once sync.Once
	id   string
	lost chan struct{} // poked when the server turned out to have lost its data; made by New
	down atomic.Bool   // the store is down because the key id changed
	done sync.WaitGroup
}

func (k *keyIDKeeper) poke() {
	select {
	case k.lost <- struct{}{}:
	default:
	}
}

func (k *keyIDKeeper) wait() { k.done.Wait() }

// KeepKeyID keeps id recorded as the key id of the state while the store
// runs: the node that chose its keys with id calls it once the store is
// in use. A server that loses its data (restarted without persistence,
// FLUSHDB, failed over to an empty replica, the key evicted) loses the key
// id with it, while the nodes go on writing state keyed under it; a node
// started then would find state without a key id and take it for state
// written before key ids, keyed otherwise. So every KeyIDInterval, and at
// once when the server turns out to have lost the function library, the
// store reads the key id: one that is gone is recorded again (counted,
// and logged as a warning); another one in its place (a node with another
// secret recorded its own meanwhile) takes the store down, as at start,
// until the two match again. Only the first call counts.
func (s *Store) KeepKeyID(id string) {
	s.keeper.once.Do(func() {
		s.keeper.id = id
		s.keeper.done.Add(1)
		go func() {
			defer s.keeper.done.Done()
			s.keepKeyID()
		}()
	})
}

func (s *Store) keepKeyID() {
	t := time.NewTicker(s.opts.KeyIDInterval)
	defer t.Stop()
	down := false // taken down here, for a changed key id
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.keeper.lost:
		}
		if !down && !s.up.Load() {
			continue // not connected: the background connection's
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.DialTimeout+time.Second)
		match, known := s.checkKeyID(ctx)
		cancel()
		switch {
		case !known:
		case !match && !down:
			down = true
			s.keeper.down.Store(true)
			s.up.Store(false)
			s.stats.keyIDChanged.Add(1)
		case match && down:
			down = false
			s.keeper.down.Store(false)
			s.up.Store(true)
			s.opts.Logger.Info("redisstore: the state's key id is this node's again; decisions use state again", "store", s.where, "key_id", s.keeper.id)
		}
	}
}

// checkKeyID reads the key id and records the kept one again if it is
// gone. It reports whether the recorded one is the kept one, known false
// when it could not tell.
func (s *Store) checkKeyID(ctx context.Context) (match, known bool) {
	want := s.keeper.id
	got, err := s.rdb.Get(ctx, s.keyIDKey()).Result()
	if errors.Is(err, redis.Nil) {
		if got, err = s.SetKeyID(ctx, want); err == nil && got == want {
			s.stats.keyIDRestored.Add(1)
			s.opts.Logger.Warn("redisstore: the state's key id was gone, and is recorded again: Redis lost its data (restarted without persistence, flushed, failed over to an empty replica) or the key was evicted or deleted",
				"store", s.where, "key", s.keyIDKey(), "key_id", want)
			return true, true
		}
	}
	switch {
	case err != nil:
		s.logBackground("redisstore: checking the state's key id", s.classify(err))
		return false, false
	case got == want:
		return true, true
	}
	s.logBackground("redisstore: the state's key id is not this node's; deciding without state until they match (was another secret started on this store after it lost its data?)",
		fmt.Errorf("found %s, this node keys with %s", got, want))
	return false, true
}

// SetKeyID implements engine.KeyIDKeeper.
func (s *Store) SetKeyID(ctx context.Context, id string) (string, error) {
	if err := s.rdb.SetNX(ctx, s.keyIDKey(), id, 0).Err(); err != nil {
		return "", fmt.Errorf("redisstore: key id: %w", s.classify(err))
	}
	got, err := s.rdb.Get(ctx, s.keyIDKey()).Result()
	if err != nil {
		return "", fmt.Errorf("redisstore: key id: %w", s.classify(err))
	}
	return got, nil
}

// anyKey reports whether some key starts with the store's prefix, on
// every master of a cluster.
func (s *Store) anyKey(ctx context.Context) (bool, error) {
	scan := func(ctx context.Context, c redis.Cmdable) (bool, error) {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, s.opts.KeyPrefix+"*", 1000).Result()
			if err != nil {
				return false, err
			}
			if len(keys) > 0 {
				return true, nil
			}
			if cursor = next; cursor == 0 {
				return false, nil
			}
		}
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		var found atomic.Bool // ForEachMaster calls concurrently
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			f, err := scan(ctx, c)
			if f {
				found.Store(true)
			}
			return err
		})
		return found.Load(), err
	}
	return scan(ctx, s.rdb)
}
