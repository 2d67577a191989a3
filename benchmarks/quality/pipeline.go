package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/simulator"
)

// options configure one benchmark run.
type options struct {
	sim simulator.Config
	// rules are rule files or folders; none means the embedded defaults.
	rules []string
	// geoDir receives the simulated GeoIP databases.
	geoDir string
	// decisions, when set, receives the replay's decision lines, signals
	// included (large: about 3 KB an attempt).
	decisions io.Writer
}

// newPipeline assembles the node `riskgate replay --geoip-city ...
// --geoip-asn ... --geoip-anonymous ...` assembles, from the same
// package and the same config: the in-memory store, the GeoIP enrichment
// on the simulated databases followed by the IP lists (built-in hosting
// ASNs), the default signals with the bundled breached-password filter,
// and the rules (the given files, or the embedded defaults).
func newPipeline(ctx context.Context, geo simulator.GeoPaths, rulePaths []string, seed uint64) (*node.Node, error) {
	cfg := node.Config{EngineConfig: node.EngineConfig{
		Rules: rulePaths,
		GeoIP: node.GeoIPConfig{City: []string{geo.City}, ASN: []string{geo.ASN}, Anonymous: []string{geo.Anonymous}, CacheSize: geoip.DefaultCacheSize},
	}}
	n, err := node.New(ctx, cfg, node.WithLogger(slog.New(slog.DiscardHandler)),
		node.WithSecret([]byte("riskgate quality benchmark secret")),
		node.WithEngine(func(o *engine.Options) { o.NewID = engine.SeededIDs(seed) }))
	if err != nil {
		return nil, fmt.Errorf("quality: %w", err)
	}
	return n, nil
}

// recorder is the replay's scorer: the engine, with every decision noted
// for the report.
type recorder struct {
	e     *engine.Engine
	lines []replay.Line
	next  int
	rows  []row
}

func (r *recorder) Score(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
	d, err := r.e.Score(ctx, a)
	if err != nil {
		return d, err
	}
	for r.next < len(r.lines) && r.lines[r.next].Outcome != nil {
		r.next++
	}
	if r.next >= len(r.lines) || r.lines[r.next].AttemptID != a.AttemptID {
		return d, fmt.Errorf("quality: attempt %q scored out of order", a.AttemptID)
	}
	ln := &r.lines[r.next]
	r.next++
	x := row{label: ln.Label, tag: tagOf(a.AttemptID), action: d.Action, result: a.Result,
		rbaKnown: d.Signals.RBA.Available, rba: d.Signals.RBA.Score}
	for _, re := range d.Reasons {
		x.rules = append(x.rules, re.RuleID)
	}
	r.rows = append(r.rows, x)
	return d, nil
}

func (r *recorder) Report(ctx context.Context, o engine.Outcome) error { return r.e.Report(ctx, o) }

// tagOf is the attempt-id prefix the simulator writes: "ato_vpn-0001234".
func tagOf(id string) string {
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}

// run simulates, replays the stream (in the replay format, through a
// pipe) with auto-outcomes, and reports.
func run(ctx context.Context, o options) (*Report, error) {
	out, err := simulator.Generate(o.sim)
	if err != nil {
		return nil, err
	}
	geo, err := out.Geo.Write(o.geoDir)
	if err != nil {
		return nil, err
	}
	p, err := newPipeline(ctx, geo, o.rules, out.Config.Seed)
	if err != nil {
		return nil, err
	}
	defer p.Close(context.Background())
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(out.WriteJSONL(pw)) }()
	rec := &recorder{e: p.Engine(), lines: out.Lines}
	dst := o.decisions
	if dst == nil {
		dst = io.Discard
	}
	_, err = replay.Run(ctx, rec, pr, dst, replay.Options{AutoOutcomes: true, NoSignals: o.decisions == nil})
	pr.Close()
	if err != nil {
		return nil, fmt.Errorf("quality: replay: %w", err)
	}
	return buildReport(out.Config, rec.rows), nil
}
