package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/iplist"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/signals"
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

// pipeline is the engine `riskgate replay` builds, from the same packages:
// the in-memory store, the GeoIP enrichment on the simulated databases
// followed by the IP lists (built-in hosting ASNs), the default signals
// with the embedded breached-password filter, and the rules.
type pipeline struct {
	engine *engine.Engine
	close  []func()
}

func (p *pipeline) Close() {
	for i := len(p.close) - 1; i >= 0; i-- {
		p.close[i]()
	}
}

func newPipeline(geo simulator.GeoPaths, rulePaths []string, seed uint64) (*pipeline, error) {
	p := &pipeline{}
	set, err := loadRules(rulePaths)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	store := memstore.New(memstore.Options{})
	p.close = append(p.close, func() { _ = store.Close(context.Background()) })
	g, err := geoip.New(geoip.Options{City: []string{geo.City}, ASN: []string{geo.ASN}, Anonymous: []string{geo.Anonymous}, Logger: log})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("quality: %w", err)
	}
	p.close = append(p.close, g.Close)
	lists, err := iplist.New(iplist.Options{Logger: log})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("quality: %w", err)
	}
	p.close = append(p.close, lists.Close)
	filter, err := breached.Default()
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("quality: %w", err)
	}
	check := func(h *[20]byte) (bool, int) {
		m := filter.Lookup(*h)
		return m.Found, m.Tier
	}
	keyer, err := engine.NewKeyer([]byte("riskgate quality benchmark secret"))
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("quality: %w", err)
	}
	p.engine, err = engine.New(engine.Options{
		Store: store, Rules: rules.NewHolder(set), Keyer: keyer, Logger: log,
		Enrichers: []engine.Enricher{g, lists},
		Signals:   signals.Default(signals.Config{Breached: check}),
		NewID:     engine.SeededIDs(seed),
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("quality: %w", err)
	}
	return p, nil
}

func loadRules(paths []string) (*rules.Set, error) {
	if len(paths) == 0 {
		return rules.Default()
	}
	srcs, err := rules.LoadFiles(paths...)
	if err != nil {
		return nil, err
	}
	return rules.Compile(srcs...)
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
		rbaKnown: d.Signals.RBA.Available, rba: d.Signals.RBA.Score, deviceKnown: d.Signals.Device.Known}
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
	out, err := simulator.Generate(ctx, o.sim)
	if err != nil {
		return nil, err
	}
	geo, err := out.Geo.Write(o.geoDir)
	if err != nil {
		return nil, err
	}
	p, err := newPipeline(geo, o.rules, out.Config.Seed)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(out.WriteJSONL(pw)) }()
	rec := &recorder{e: p.engine, lines: out.Lines}
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
