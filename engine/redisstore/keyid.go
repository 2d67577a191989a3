package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

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
	return "", !found, nil
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
