package capture

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

const secret = "capture-test-secret-0123456789"

// world is a simulated day and the databases that locate it.
type world struct {
	stream []byte
	lines  []replay.Line
	geo    simulator.GeoPaths
}

func simulate(t *testing.T) *world {
	t.Helper()
	cfg := simulator.DefaultConfig()
	cfg.Seed, cfg.Users, cfg.Days, cfg.WarmupDays = 7, 150, 4, 2
	out, err := simulator.Generate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	geo, err := out.Geo.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := out.WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	return &world{stream: buf.Bytes(), lines: out.Lines, geo: geo}
}

// newEngine is what riskgate serve and replay build on the simulated
// world: GeoIP, hosting ASNs, the bundled breached-password list, the
// default rules, a memory store.
func newEngine(t *testing.T, w *world, observers ...engine.Observer) *engine.Engine {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	g, err := geoip.New(geoip.Options{City: []string{w.geo.City}, ASN: []string{w.geo.ASN}, Anonymous: []string{w.geo.Anonymous}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	lists, err := iplist.New(iplist.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lists.Close)
	filter, err := breached.Default()
	if err != nil {
		t.Fatal(err)
	}
	check := func(h *[20]byte) (bool, int) { m := filter.Lookup(*h); return m.Found, m.Tier }
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close(context.Background()) })
	keyer, err := engine.NewKeyer([]byte("engine-secret-is-another-one-42"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{
		Store: store, Rules: set, Keyer: keyer, Logger: log, Observers: observers,
		Enrichers: []engine.Enricher{g, lists}, Signals: signals.Default(signals.Config{Breached: check}),
		NewID: engine.SeededIDs(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func defaultRules(version string) []rules.Source {
	set, err := rules.Default()
	if err != nil || set.Version() != version {
		return nil
	}
	return []rules.Source{rules.DefaultSource()}
}

func decisions(t *testing.T, out []byte) []replay.Result {
	t.Helper()
	var rs []replay.Result
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r replay.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// The replayability test: simulate, score with the capture on,
// replay the capture, and get the same action for every attempt.
func TestReplayOfACaptureReproducesTheLiveActions(t *testing.T) {
	// Compressed: the plain files are the same lines, tested below.
	for _, compress := range []bool{true} {
		t.Run(map[bool]string{false: "jsonl", true: "gzip"}[compress], func(t *testing.T) {
			w := simulate(t)
			dir := t.TempDir()
			sink, err := New(Options{Dir: dir, Secret: []byte(secret), Compress: compress, Rules: defaultRules, MaxFileBytes: 100 << 10})
			if err != nil {
				t.Fatal(err)
			}
			var live bytes.Buffer
			liveSum, err := replay.Run(context.Background(), newEngine(t, w, sink), bytes.NewReader(w.stream), &live, replay.Options{AutoOutcomes: true, NoSignals: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := sink.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := sink.Stats()
			liveDecisions := decisions(t, live.Bytes())
			if st.Dropped != 0 || int(st.Attempts) != len(liveDecisions) || st.Files < 2 {
				t.Fatalf("capture stats %+v for %d decisions: want every attempt, in several files", st, len(liveDecisions))
			}

			in, err := replay.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var again bytes.Buffer
			sum, err := replay.Run(context.Background(), newEngine(t, w), in, &again, replay.Options{NoSignals: true})
			if err != nil {
				t.Fatal(err)
			}
			replayed := decisions(t, again.Bytes())
			if len(replayed) != len(liveDecisions) {
				t.Fatalf("%d replayed decisions, %d live", len(replayed), len(liveDecisions))
			}
			actions := map[engine.Action]int{}
			for i, l := range liveDecisions {
				r := replayed[i]
				actions[l.Action]++
				if r.AttemptID != l.DecisionID || r.Action != l.Action || r.Score != l.Score || r.Live == nil || r.Live.Action != l.Action {
					t.Fatalf("attempt %d (%s): replayed %s %d, live %s %d (%v / %v)", i, l.AttemptID, r.Action, r.Score, l.Action, l.Score, ruleIDs(r.Reasons), ruleIDs(l.Reasons))
				}
			}
			if actions[engine.ActionStepUp] == 0 || actions[engine.ActionDeny] == 0 {
				t.Fatalf("the simulated day has no step-up or deny (%v): the test proves nothing", actions)
			}
			if sum.Live == nil || sum.Live.Same != len(liveDecisions) {
				t.Errorf("summary live comparison %+v", sum.Live)
			}
			// Every captured outcome reached its decision again: the step-ups
			// the people answered, and the analysts' labels.
			labels := 0
			for _, ln := range w.lines {
				if ln.Outcome != nil && ln.Outcome.Outcome.Outcome == engine.ConfirmedFraud {
					labels++
				}
			}
			if labels == 0 || sum.Outcomes.Applied == 0 || sum.Outcomes.Skipped != 0 || sum.Stream.Unmatched != 0 ||
				sum.Outcomes.Applied != int(st.Outcomes) || sum.Stream.Outcomes != int(st.Outcomes) {
				t.Errorf("outcomes replayed %+v, stream %+v; captured %d (%d labels)", sum.Outcomes, sum.Stream, st.Outcomes, labels)
			}
			if liveSum.Labels["legit"] == nil || sum.Labels["fraud"] == nil {
				t.Errorf("labels: live %v, replayed capture %v: the analysts' labels should label the capture", liveSum.Labels, sum.Labels)
			}
			assertPrivate(t, dir, w)
		})
	}
}

func ruleIDs(rs []engine.Reason) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.RuleID)
	}
	return ids
}

// assertPrivate checks that no identifier or password hash of the stream
// appears in the capture, as a value or within one.
func assertPrivate(t *testing.T, dir string, w *world) {
	t.Helper()
	secrets := map[string]string{}
	for _, ln := range w.lines {
		if ln.Outcome != nil {
			continue
		}
		for kind, v := range map[string]string{"user id": ln.UserID, "username": ln.Username, "device id": ln.DeviceID, "password hash": ln.PasswordSHA1} {
			if v != "" {
				secrets[strings.ToLower(strings.TrimSpace(v))] = kind
			}
		}
	}
	// The SHA-1 of a password the simulated breached users share.
	common := sha1.Sum([]byte("123456"))
	secrets[hex.EncodeToString(common[:])] = "common password hash"

	in, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	data, err := io.ReadAll(in)
	if err != nil {
		t.Fatal(err)
	}
	lower := strings.ToLower(string(data))
	if strings.Contains(lower, "password_sha1") {
		t.Error("the capture has a password_sha1 field")
	}
	var values []string
	sc := bufio.NewScanner(strings.NewReader(lower))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		values = collect(v, values)
	}
	for _, v := range values {
		if kind, ok := secrets[v]; ok {
			t.Fatalf("the capture holds a %s in clear: %q", kind, v)
		}
	}
	if len(values) < 1000 {
		t.Fatalf("only %d values in the capture", len(values))
	}
}

func collect(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case map[string]any:
		for _, e := range x {
			out = collect(e, out)
		}
	case []any:
		for _, e := range x {
			out = collect(e, out)
		}
	}
	return out
}

func TestNewRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no folder", Options{Secret: []byte(secret)}, "no folder"},
		{"short secret", Options{Dir: dir, Secret: []byte("short")}, "secret shorter"},
		{"retention too long", Options{Dir: dir, Secret: []byte(secret), Retention: 500 * 24 * time.Hour}, "retention"},
		{"files outlive retention", Options{Dir: dir, Secret: []byte(secret), Retention: time.Hour, MaxFileAge: 2 * time.Hour}, "outlive"},
		{"negative size", Options{Dir: dir, Secret: []byte(secret), MaxTotalBytes: -1}, "negative"},
		{"folder is a file", Options{Dir: filepath.Join(writeFile(t, dir, "f", "x"), "sub"), Secret: []byte(secret)}, "capture:"},
	}
	for _, tt := range tests {
		s, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
		if s != nil {
			s.Close(context.Background())
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
