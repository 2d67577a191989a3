package redisstore

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

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

// Ping reports whether the store is in use and its server answers, for
// health checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.usable("ping"); err != nil {
		return err
	}
	return s.rdb.Ping(ctx).Err()
}
