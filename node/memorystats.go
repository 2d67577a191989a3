package node

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/metricset"
)

// memoryTables names the memory store's tables in metrics and logs, with
// the setting that bounds each.
var memoryTables = [...]struct{ name, flag string }{
	{"profiles", "--memory-max-users"},
	{"windows", "--memory-max-window-keys, --memory-max-members"},
	{"accounts", "--memory-max-account-keys, --memory-max-members"},
	{"pending", "--memory-max-pending"},
	{"attempts", "--memory-max-attempts"},
}

func memoryTableStats(st memstore.Stats) [len(memoryTables)]memstore.TableStats {
	return [...]memstore.TableStats{st.Profiles, st.Windows, st.Accounts, st.Pending, st.Attempts}
}

// memoryCollector exports the memory store's fill and evictions: a store
// that evicts has bounds too small for its traffic, or is being flushed
// by an attacker (fresh users push baselines out, fresh decisions push
// pending ones out).
type memoryCollector struct {
	s                          *memstore.Store
	entries, capacity, evicted *prometheus.Desc
}

func newMemoryCollector(s *memstore.Store) *memoryCollector {
	return &memoryCollector{
		s: s,
		entries: prometheus.NewDesc("riskgate_memory_entries",
			"Entries the memory store holds, by table.", []string{"table"}, nil),
		capacity: prometheus.NewDesc("riskgate_memory_capacity",
			"Entries the memory store's table may hold (its --memory-max-* bound).", []string{"table"}, nil),
		evicted: prometheus.NewDesc("riskgate_memory_evictions_total",
			"Entries evicted, least recently used first, to keep the memory store's table within its bound (not those expired or erased).", []string{"table"}, nil),
	}
}

func (c *memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.capacity
	ch <- c.evicted
}

func (c *memoryCollector) Collect(ch chan<- prometheus.Metric) {
	for i, ts := range memoryTableStats(c.s.Stats()) {
		name := memoryTables[i].name
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(ts.Entries), name)
		ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(ts.Capacity), name)
		ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(ts.Evicted), name)
	}
}

// evictionCheck is how often the memory store's evictions are looked at
// for the log.
const evictionCheck = 10 * time.Second

// evictionLogEvery is how often, at most, the log says that a table of
// the memory store evicts.
const evictionLogEvery = 10 * time.Minute

// evictingTable is a bounded table of the node's whose evictions the log
// warns of: what the warning says (naming the setting that bounds it),
// the table's name, and its counts.
type evictingTable struct {
	warning, name string
	stats         func() (evicted uint64, entries, capacity int)
}

// evictingTables are the memory store's tables (ms, when the node has
// one) and the engine's retry cache (when it keeps one): what
// logEvictions watches.
func evictingTables(ms *memstore.Store, e *engine.Engine) []evictingTable {
	var out []evictingTable
	if ms != nil {
		for i := range memoryTables {
			out = append(out, evictingTable{
				warning: "memory store: full, evicting the least recently used entries; raise " + memoryTables[i].flag + " if this is ordinary traffic",
				name:    memoryTables[i].name,
				stats: func() (uint64, int, int) {
					ts := memoryTableStats(ms.Stats())[i]
					return ts.Evicted, ts.Entries, ts.Capacity
				},
			})
		}
	}
	if _, ok := e.RetryStats(); ok {
		out = append(out, evictingTable{
			// Each eviction is a retry scored again, and decided again
			// when the store cannot answer it.
			warning: "retry cache: full, dropping the oldest decisions remembered for retries before --attempt-window ends; raise --memory-max-retries or --memory-max-retry-bytes if this is ordinary traffic",
			name:    "retries",
			stats: func() (uint64, int, int) {
				st, _ := e.RetryStats()
				return st.Evicted, st.Entries, st.MaxEntries
			},
		})
	}
	return out
}

// logEvictions warns, every check and at most once per evictionLogEvery
// a table, when a table has evicted entries since it last said so; it
// returns when stop is closed.
func logEvictions(log *slog.Logger, tables []evictingTable, check time.Duration, stop <-chan struct{}) {
	said := make([]uint64, len(tables))
	when := make([]time.Time, len(tables))
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for i, tb := range tables {
				evicted, entries, capacity := tb.stats()
				if evicted == said[i] || now.Sub(when[i]) < evictionLogEvery && !when[i].IsZero() {
					continue
				}
				log.Warn(tb.warning, "table", tb.name, "evicted", evicted-said[i], "entries", entries, "capacity", capacity)
				said[i], when[i] = evicted, now
			}
		}
	}
}

// retryCacheCollector exports the decisions the engine remembers for
// retries (--memory-max-retries, --memory-max-retry-bytes; with Redis by
// default): memory of the node's own beside the store's, which fresh
// attempt ids fill as they fill the store's tables. A decision evicted
// for room before --attempt-window ends is a retry scored again, and,
// when the store cannot answer it, decided again: that eviction was
// counted nowhere.
func retryCacheCollector(e *engine.Engine) prometheus.Collector {
	st := func() engine.RetryStats { s, _ := e.RetryStats(); return s }
	return metricset.Set{
		metricset.Gauge("riskgate_retry_cache_entries", "Decisions the node remembers so that a retried attempt_id gets the same answer when the store cannot give it.", func() float64 { return float64(st().Entries) }),
		metricset.Gauge("riskgate_retry_cache_capacity", "Decisions the retry cache may hold (--memory-max-retries).", func() float64 { return float64(st().MaxEntries) }),
		metricset.Gauge("riskgate_retry_cache_bytes", "Bytes the decisions remembered for retries hold.", func() float64 { return float64(st().Bytes) }),
		metricset.Gauge("riskgate_retry_cache_max_bytes", "Bytes the retry cache may hold (--memory-max-retry-bytes).", func() float64 { return float64(st().MaxBytes) }),
		metricset.Counter("riskgate_retry_cache_evictions_total", "Decisions remembered for retries dropped, oldest first, to stay within --memory-max-retries or --memory-max-retry-bytes before their --attempt-window ended (not those expired or erased).", func() float64 { return float64(st().Evicted) }),
	}
}
