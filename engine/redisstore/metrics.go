package redisstore

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/internal/metricset"
)

// Collector returns the store's write-behind metrics, read from its Stats
// at scrape time: flushes, dropped and refused writes, compactions.
func (s *Store) Collector() prometheus.Collector {
	return metricset.Set{
		metricset.Counter("riskgate_redis_flushes_total", "Redis store: write-behind flushes sent.", func() float64 { return float64(s.Stats().Flushes) }),
		metricset.Counter("riskgate_redis_dropped_writes_total", "Redis store: buffered writes lost because their pipeline failed.", func() float64 { return float64(s.Stats().Dropped) }),
		metricset.Counter("riskgate_redis_write_errors_total", "Redis store: buffered writes the server refused.", func() float64 { return float64(s.Stats().WriteErrors) }),
		metricset.Counter("riskgate_redis_compactions_total", "Redis store: learned logins folded into profiles.", func() float64 { return float64(s.Stats().Compactions) }),
		metricset.Counter("riskgate_redis_key_id_restored_total", "Redis store: times the state's key id was gone from the server (Redis lost its data) and this node recorded it again.", func() float64 { return float64(s.Stats().KeyIDRestored) }),
		metricset.Counter("riskgate_redis_key_id_changed_total", "Redis store: times another key id was found in place of this node's; the node then decides without state until the two match.", func() float64 { return float64(s.Stats().KeyIDChanged) }),
	}
}

// Ping reports, for health checks, whether the store can carry Scores: it
// is in use, and its server (every master of a cluster) runs the batch
// function, as a Score's call does. PING alone is not enough: a server
// that answers it but refuses the function's writes (maxmemory reached
// under noeviction: OOM; a replica left behind by a failover: READONLY; a
// failed snapshot with stop-writes-on-bgsave-error: MISCONF) fails every
// Score, which is then decided without state. A server that lost the
// library gets it again, as a Score's call would give it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.usable("ping"); err != nil {
		return err
	}
	probe := func(ctx context.Context, c redis.Cmdable) error {
		if err := c.Ping(ctx).Err(); err != nil {
			return err
		}
		// No items: the function does nothing, but the server checks
		// whether it may write before running it.
		err := c.FCall(ctx, s.lib.fn, nil, "").Err()
		if isNoFunction(err) {
			s.keeper.poke()
			if err := s.lib.load(ctx, s.rdb); err != nil {
				return err
			}
			err = c.FCall(ctx, s.lib.fn, nil, "").Err()
		}
		return err
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return probe(ctx, c) })
	} else {
		err = probe(ctx, s.rdb)
	}
	return s.wrap("ping", err)
}
