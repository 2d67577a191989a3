package backtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/capture"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
	"github.com/riskgate/riskgate/signals"
	"github.com/riskgate/riskgate/simulator"
)

// simulated is a small simulated stream (no GeoIP: the attack windows,
// devices and passwords are enough here).
func simulated(t testing.TB) []byte {
	t.Helper()
	cfg := simulator.DefaultConfig()
	cfg.Seed, cfg.Users, cfg.Days, cfg.WarmupDays = 3, 150, 4, 2
	out, err := simulator.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := out.WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// switchingScorer swaps the live rules after a number of attempts: a
// rules reload in the middle of the capture.
type switchingScorer struct {
	*engine.Engine
	n, at  int
	holder *replay.CapturedRules
	to     *rules.Set
}

func (s *switchingScorer) Score(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
	if s.n++; s.n == s.at {
		s.holder.Use(s.to)
	}
	return s.Engine.Score(ctx, a)
}

// A backtest of a capture, with no baseline given, replays the rules the
// capture was scored with, switching where the live rules switched, and
// so reproduces every live decision; the candidate is compared with that.
func TestBacktestOfACaptureFollowsTheLiveRules(t *testing.T) {
	def, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	custom := loadSet(t, "testdata/candidate.yaml")
	sources := map[string][]rules.Source{def.Version(): {rules.DefaultSource()}}
	srcs, err := rules.LoadFiles("testdata/candidate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sources[custom.Version()] = srcs

	dir := t.TempDir()
	sink, err := capture.New(capture.Options{Dir: dir, Secret: []byte("backtest-test-secret-0123456789"), Compress: true,
		MaxFileBytes: 150 << 10, Rules: func(v string) []rules.Source { return sources[v] }})
	if err != nil {
		t.Fatal(err)
	}
	holder := replay.NewCapturedRules(def)
	keyer, _ := engine.NewKeyer([]byte("live-engine-secret-0123456789"))
	store := memstore.New(memstore.Options{})
	defer store.Close(context.Background())
	live, err := engine.New(engine.Options{Store: store, Rules: holder, Keyer: keyer, Observers: []engine.Observer{sink},
		Signals: signals.Default(signals.Config{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	stream := simulated(t)
	sc := &switchingScorer{Engine: live, at: 1200, holder: holder, to: custom}
	sum, err := replay.Run(context.Background(), sc, bytes.NewReader(stream), io.Discard, replay.Options{AutoOutcomes: true, NoSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	in, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rep, err := backtest.Run(context.Background(), in, options(t, nil, def))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Baseline.Source != "capture" || !reflect.DeepEqual(rep.Baseline.Versions, []string{def.Version(), custom.Version()}) {
		t.Errorf("baseline %+v, want the capture's two rulesets in order", rep.Baseline)
	}
	l := rep.Live
	if l == nil || l.Compared != rep.Attempts || l.BaselineSame != l.Compared {
		t.Fatalf("live %+v for %d attempts: the baseline should reproduce every live decision", l, rep.Attempts)
	}
	// The candidate is the default rules throughout: it agrees with the
	// live decisions before the switch, not after.
	if l.CandidateSame == l.Compared || rep.Changed == 0 || rep.Changed != l.Compared-l.CandidateSame {
		t.Errorf("live %+v, changed %d: the candidate should differ after the switch, by exactly the changed attempts", l, rep.Changed)
	}
	if !rep.Input.Capture || rep.Input.Files < 2 || rep.Input.Attempts != rep.Attempts {
		t.Errorf("input %+v", rep.Input)
	}
	// The analysts' labels of the live run label the capture's attempts.
	if rep.Labels["fraud"] == nil || sum.Labels["account_takeover"] == nil {
		t.Errorf("labels %v", rep.Labels)
	}
}

// Running the sides concurrently changes nothing in the result.
func TestConcurrentAndSequentialAgree(t *testing.T) {
	stream := simulated(t)
	def, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	var reports [2][]byte
	for i, seq := range []bool{false, true} {
		opts := options(t, def, loadSet(t, "testdata/candidate.yaml"))
		opts.Sequential = seq
		rep, err := backtest.Run(context.Background(), bytes.NewReader(stream), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Changed == 0 || rep.Attempts < 1000 {
			t.Fatalf("%d of %d attempts changed: the comparison proves nothing", rep.Changed, rep.Attempts)
		}
		reports[i], _ = json.Marshal(rep)
	}
	if !bytes.Equal(reports[0], reports[1]) {
		t.Error("the concurrent and the sequential backtest differ")
	}
}
