package main

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/node"
)

// startInProcess runs the real server, assembled as riskgate serve
// assembles it (package node: memory store, default rules and signals,
// metrics), on loopback ports.
func startInProcess(tb testing.TB) server.Addrs {
	tb.Helper()
	cfg := node.Config{HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: node.GRPCConfig{Addr: "127.0.0.1:0"},
		EngineConfig: node.EngineConfig{PasswordConfig: node.PasswordConfig{Breached: "none"}}}
	n, err := node.New(context.Background(), cfg, node.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		node.WithRegistry(prometheus.NewRegistry()), node.WithSecret([]byte("benchmark-secret-0123456789")))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cancel(); wait() })
	return addrs
}

// benchCalls measures calls through the whole stack, client and server in
// this process, and reports the CPU time per call besides wall time: on a
// shared machine CPU per call is the stable number, and 2 cores divided by
// it bounds the throughput.
func benchCalls(b *testing.B, target string) {
	addrs := startInProcess(b)
	c := config{target: target, addr: addrs.GRPC, concurrency: 32, conns: 2, users: 2000}
	if target == "http" {
		c.addr = addrs.HTTP
	}
	pop := newPopulation(c.users)
	call, closeFn, err := newCaller(c, pop)
	if err != nil {
		b.Fatal(err)
	}
	defer closeFn()
	ctx := context.Background()
	for i := range pop.attempts { // baselines
		if err := call(ctx, i); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(16) // 32 in flight on 2 cores
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			if err := call(ctx, int(next.Add(1)%int64(len(pop.attempts)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "calls/s")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0))*1e6/(float64(cpu.Microseconds())/float64(b.N)), "calls/s-if-alone")
}

func BenchmarkGRPCScore(b *testing.B) { benchCalls(b, "grpc") }
func BenchmarkHTTPScore(b *testing.B) { benchCalls(b, "http") }
