// Command backtest measures `riskgate backtest` on a large stream: attempts
// per second for one ruleset and for a two-ruleset diff, and the peak
// memory of each, one mode per process (peak memory is the process's).
//
//	riskgate simulate --users 25000 --geo-dir /tmp/geo -o /tmp/sim.jsonl
//	go build -o /tmp/btbench ./benchmarks/backtest
//	/tmp/btbench -in /tmp/sim.jsonl -geo /tmp/geo -mode one   # one ruleset: decode + score, as replay without output
//	/tmp/btbench -in /tmp/sim.jsonl -geo /tmp/geo -mode diff  # two rulesets, concurrently (what riskgate backtest does)
//	/tmp/btbench -in /tmp/sim.jsonl -geo /tmp/geo -mode seq   # two rulesets, one after the other per batch
//
// The modes share the decoder and the engines' construction with riskgate
// backtest (GeoIP on the given databases, the bundled breached-password
// list, the default signals); the candidate is the built-in rules with
// every threshold lowered, so that many decisions change.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/iplist"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
	"github.com/riskgate/riskgate/signals"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "backtest bench:", err)
		os.Exit(1)
	}
}

func run() error {
	in := flag.String("in", "", "the stream (a simulate output or a capture)")
	geoDir := flag.String("geo", "", "folder of city.mmdb, asn.mmdb, anonymous.mmdb (riskgate simulate --geo-dir)")
	mode := flag.String("mode", "diff", "one, diff or seq")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile")
	memProfile := flag.String("memprofile", "", "write a heap profile at the end")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.DiscardHandler)
	var enrichers []engine.Enricher
	if *geoDir != "" {
		g, err := geoip.New(geoip.Options{City: []string{filepath.Join(*geoDir, "city.mmdb")}, ASN: []string{filepath.Join(*geoDir, "asn.mmdb")},
			Anonymous: []string{filepath.Join(*geoDir, "anonymous.mmdb")}, Logger: log})
		if err != nil {
			return err
		}
		defer g.Close()
		lists, err := iplist.New(iplist.Options{Logger: log})
		if err != nil {
			return err
		}
		defer lists.Close()
		enrichers = []engine.Enricher{g, lists}
	}
	filter, err := breached.Default()
	if err != nil {
		return err
	}
	check := func(h *[20]byte) (bool, int) { m := filter.Lookup(*h); return m.Found, m.Tier }
	newSignals := func() []engine.Signal { return signals.Default(signals.Config{Breached: check}) }
	base, err := rules.Default()
	if err != nil {
		return err
	}
	cand, err := rules.Compile(rules.Source{Name: "lower.yaml", Data: lowered()})
	if err != nil {
		return err
	}
	r, err := replay.Open(*in)
	if err != nil {
		return err
	}
	defer r.Close()

	start := time.Now()
	var attempts int
	switch *mode {
	case "one":
		attempts, err = one(r, base, enrichers, newSignals)
	case "diff", "seq":
		var rep *backtest.Report
		rep, err = backtest.Run(context.Background(), r, backtest.Options{
			Baseline: base, Candidate: cand, Enrichers: enrichers, Signals: newSignals, AutoOutcomes: true,
			Sequential: *mode == "seq",
		})
		if rep != nil {
			attempts = rep.Attempts
			fmt.Printf("changed %d of %d\n", rep.Changed, rep.Attempts)
		}
	default:
		err = fmt.Errorf("-mode %q: want one, diff or seq", *mode)
	}
	if err != nil {
		return err
	}
	took := time.Since(start)
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("mode %s: %d attempts in %.1f s: %.0f attempts/s; CPU %.1f s; peak RSS %d MiB; GOMAXPROCS %d\n",
		*mode, attempts, took.Seconds(), float64(attempts)/took.Seconds(),
		time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds(), ru.Maxrss/1024, runtime.GOMAXPROCS(0))
	return nil
}

// one replays the stream through one ruleset, decoding on its own
// goroutine as the backtest does, and writing nothing.
func one(r io.Reader, set *rules.Set, enrichers []engine.Enricher, newSignals func() []engine.Signal) (int, error) {
	store := memstore.New(memstore.Options{})
	defer store.Close(context.Background())
	keyer, _ := engine.NewKeyer([]byte("benchmark secret, not a secret"))
	e, err := engine.New(engine.Options{Store: store, Rules: set, Keyer: keyer, Enrichers: enrichers,
		Signals: newSignals(), Logger: slog.New(slog.DiscardHandler), NewID: engine.SeededIDs(1), RetryEntries: -1})
	if err != nil {
		return 0, err
	}
	p := replay.NewPlayer(e, replay.PlayerOptions{AutoOutcomes: true})
	batches := make(chan []replay.Event, 8)
	errc := make(chan error, 1)
	go func() {
		defer close(batches)
		dec := replay.NewDecoder(r)
		for {
			b := make([]replay.Event, 0, 256)
			for len(b) < 256 {
				b = append(b, replay.Event{})
				if err := dec.Next(&b[len(b)-1]); err != nil {
					b = b[:len(b)-1]
					if err != io.EOF {
						errc <- err
					}
					batches <- b
					return
				}
			}
			batches <- b
		}
	}()
	n := 0
	ctx := context.Background()
	for b := range batches {
		for i := range b {
			ev := &b[i]
			switch ev.Kind {
			case replay.KindAttempt:
				if _, err := p.Attempt(ctx, ev); err != nil {
					return n, fmt.Errorf("line %d: %w", ev.LineNo, err)
				}
				n++
			case replay.KindOutcome:
				if err := p.Outcome(ctx, ev); err != nil {
					return n, fmt.Errorf("line %d: %w", ev.LineNo, err)
				}
			}
		}
	}
	select {
	case err := <-errc:
		return n, err
	default:
	}
	return n, nil
}

// lowered is the built-in rules with both thresholds lowered by 15 points.
func lowered() []byte {
	src := rules.DefaultSource().Data
	out := make([]byte, 0, len(src))
	for _, line := range splitLines(src) {
		var v int
		switch {
		case sscan(line, "  step_up: %d", &v):
			line = []byte(fmt.Sprintf("  step_up: %d", v-15))
		case sscan(line, "  deny: %d", &v):
			line = []byte(fmt.Sprintf("  deny: %d", v-15))
		}
		out = append(append(out, line...), '\n')
	}
	return out
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		out = append(out, b[:i])
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

func sscan(line []byte, format string, v *int) bool {
	n, err := fmt.Sscanf(string(line), format, v)
	return err == nil && n == 1
}
