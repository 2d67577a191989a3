package redisbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/redisstore"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/internal/redistest"
)

const (
	// storeTimeout is generous: the benchmark measures the store, not the
	// fallback.
	storeTimeout = 2 * time.Second
	users        = 2000
	uaChrome     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaSafari     = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

var cities = []struct {
	country  string
	lat, lon float64
}{{"FR", 48.8566, 2.3522}, {"DE", 52.52, 13.405}, {"GB", 51.5074, -0.1278}, {"US", 40.7128, -74.006}, {"JP", 35.6762, 139.6503}}

// roundTrips counts network calls: a command or a pipeline is one.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

// asnEnricher gives each address one of four ASNs, by its third byte.
type asnEnricher struct{}

func (asnEnricher) Enrich(a netip.Addr, e *engine.Enrichment) error {
	e.Network.ASN = 64500 + uint32(a.As4()[2]%4)
	return nil
}

type bench struct {
	srv      *redistest.Server
	rdb      *redis.Client // a separate connection for INFO
	e        *engine.Engine
	store    engine.Store
	rt       *roundTrips
	attempts []engine.Attempt
	start    time.Time
	tick     atomic.Int64
}

// clock is the benchmark's time: one second per Score, so that a user
// (one Score in 2,000) logs in every half hour or so and each login finds
// new 1-minute and 5-minute buckets, as ordinary traffic does, rather than
// all Scores falling into the same few buckets.
func (bn *bench) clock() time.Time {
	return bn.start.Add(time.Duration(bn.tick.Add(1)) * time.Second)
}

// setup starts a private redis-server and a warm engine: users with three
// days of history each, learned through the store.
func setup(b testing.TB) *bench {
	b.Helper()
	return setupWith(b, func(url string) (engine.Store, redis.UniversalClient, error) {
		s, err := redisstore.New(context.Background(), redisstore.Options{URL: url, PoolSize: 128})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Client(), nil
	})
}

// setupWith is setup with another store (for comparisons).
func setupWith(b testing.TB, open func(url string) (engine.Store, redis.UniversalClient, error)) *bench {
	b.Helper()
	srv := redistest.Start(b)
	ctx := context.Background()
	store, client, err := open(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close(context.Background()) })
	var enrichers []engine.Enricher
	if os.Getenv("RISKGATE_REDIS_BENCH_ASN") != "" {
		// Four networks of 500 users each: their distinct usernames are
		// HyperLogLogs, as a large ISP's are.
		enrichers = append(enrichers, asnEnricher{})
	}
	e := enginetest.New(b, engine.Options{Store: store, Enrichers: enrichers, StoreTimeout: storeTimeout})
	bn := &bench{srv: srv, e: e, store: store, rt: &roundTrips{}, rdb: redis.NewClient(&redis.Options{Addr: srv.Addr})}
	b.Cleanup(func() { bn.rdb.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-72 * time.Hour)
	var wg sync.WaitGroup
	work := make(chan engine.Attempt)
	for range 16 {
		wg.Go(func() {
			for a := range work {
				if _, err := e.Score(ctx, a); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for u := range users {
		c := cities[r.IntN(len(cities))]
		lat, lon := c.lat, c.lon
		a := engine.Attempt{
			UserID: fmt.Sprintf("user-%d", u), Username: fmt.Sprintf("user%d@example.com", u),
			IP:        fmt.Sprintf("81.%d.%d.%d", u>>16&255, u>>8&255, u&255),
			UserAgent: uaChrome, DeviceID: fmt.Sprintf("dev-%d", u), Result: engine.ResultPasswordOK,
			PasswordSHA1: fmt.Sprintf("%040x", u),
			Geo:          &engine.GeoHint{Country: c.country, Lat: &lat, Lon: &lon},
		}
		if u%3 == 0 {
			a.UserAgent = uaSafari
		}
		for d := range 3 {
			a.Time = start.Add(time.Duration(d)*24*time.Hour + time.Duration(r.IntN(3600))*time.Second)
			work <- a
		}
		bn.attempts = append(bn.attempts, a)
	}
	close(work)
	wg.Wait()
	client.AddHook(bn.rt)
	bn.start = time.Now()
	return bn
}

// serverCPU returns the CPU time redis-server has used.
func (bn *bench) serverCPU(b testing.TB) time.Duration {
	user, sys := bn.serverCPUSplit(b)
	return user + sys
}

// serverCPUSplit returns redis-server's user and system CPU time.
func (bn *bench) serverCPUSplit(b testing.TB) (user, sys time.Duration) {
	info, err := bn.rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		for k, out := range map[string]*time.Duration{"used_cpu_user:": &user, "used_cpu_sys:": &sys} {
			if v, ok := strings.CutPrefix(line, k); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatal(err)
				}
				*out = time.Duration(f * float64(time.Second))
			}
		}
	}
	return user, sys
}

// report adds the latency percentiles, the round trips per Score and the
// Redis server's CPU time per Score.
func (bn *bench) report(b *testing.B, h *hdrhistogram.Histogram, scores int64, rt0 int64, cpu0, sys0 time.Duration) {
	user, sys := bn.serverCPUSplit(b)
	b.ReportMetric(float64(user+sys-cpu0)/float64(scores)/1000, "redis-cpu-µs/op")
	// Of which system time: reading the requests, writing the replies,
	// waking up for them.
	b.ReportMetric(float64(sys-sys0)/float64(scores)/1000, "redis-sys-µs/op")
	b.ReportMetric(float64(h.ValueAtQuantile(50))/1000, "p50-µs")
	b.ReportMetric(float64(h.ValueAtQuantile(99))/1000, "p99-µs")
	perScore := float64(bn.rt.n.Load()-rt0) / float64(scores)
	b.ReportMetric(perScore, "roundtrips/op")
	// Each Score sends one pipeline; the background flush adds one now and
	// then when Scores pause (and connection handshakes at the start).
	if scores >= 1000 && perScore > 1.05 {
		b.Errorf("%.3f round trips per Score, want 1", perScore)
	}
}

// BenchmarkScoreRedis scores ordinary logins of known users (each learns,
// so every Score also carries a write and a compaction) against Redis on
// loopback.
func BenchmarkScoreRedis(b *testing.B) { benchScore(b, setup(b)) }

// benchScore runs the sequential and concurrent Scores on bn.
func benchScore(b *testing.B, bn *bench) {
	b.Run("sequential", func(b *testing.B) {
		h := hdrhistogram.New(1, int64(10*time.Second/time.Nanosecond), 3)
		ctx := context.Background()
		rt0, cpu0 := bn.rt.n.Load(), bn.serverCPU(b)
		_, sys0 := bn.serverCPUSplit(b)
		var n int64
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			a := bn.attempts[int(n)%len(bn.attempts)]
			a.Time = bn.clock()
			start := time.Now()
			d, err := bn.e.Score(ctx, a)
			_ = h.RecordValue(time.Since(start).Nanoseconds())
			if err != nil || !d.Signals.State.Available {
				b.Fatalf("score: %v, available %v", err, d.Signals.State.Available)
			}
			n++
		}
		b.StopTimer()
		bn.report(b, h, n, rt0, cpu0, sys0)
	})
	b.Run("parallel64", func(b *testing.B) {
		// 64 goroutines whatever GOMAXPROCS is.
		b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		var mu sync.Mutex
		h := hdrhistogram.New(1, int64(10*time.Second/time.Nanosecond), 3)
		rt0, cpu0 := bn.rt.n.Load(), bn.serverCPU(b)
		_, sys0 := bn.serverCPUSplit(b)
		var n, unavailable atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			local := hdrhistogram.New(1, int64(10*time.Second/time.Nanosecond), 3)
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			ctx := context.Background()
			for pb.Next() {
				a := bn.attempts[r.IntN(len(bn.attempts))]
				a.Time = bn.clock()
				start := time.Now()
				d, err := bn.e.Score(ctx, a)
				_ = local.RecordValue(time.Since(start).Nanoseconds())
				if err != nil {
					b.Error(err)
					return
				}
				if !d.Signals.State.Available {
					// The store deadline passed: 64 callers queue on one
					// Redis core on a loaded machine.
					unavailable.Add(1)
				}
				n.Add(1)
			}
			mu.Lock()
			h.Merge(local)
			mu.Unlock()
		})
		b.StopTimer()
		bn.report(b, h, n.Load(), rt0, cpu0, sys0)
		b.ReportMetric(float64(unavailable.Load())/float64(n.Load()), "unavailable/op")
	})
}
