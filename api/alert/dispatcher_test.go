package alert

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// recordSink records what it is sent. fail, when set, decides the error
// of each Send; block, when set, holds every Send until closed.
type recordSink struct {
	name  string
	mu    sync.Mutex
	got   []*Alert
	calls int
	fail  func(call int, batch []*Alert) (int, error)
	block chan struct{}
	// entered, when set, is signalled (without blocking) on every Send.
	entered chan struct{}
}

func (s *recordSink) Name() string { return s.name }

func (s *recordSink) Send(ctx context.Context, batch []*Alert) (int, error) {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	n, err := len(batch), error(nil)
	if s.fail != nil {
		n, err = s.fail(s.calls, batch)
	}
	s.got = append(s.got, batch[:n]...)
	return n, err
}

func (s *recordSink) Close(context.Context) error { return nil }

func (s *recordSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.got {
		out = append(out, a.AlertID)
	}
	return out
}

func newDispatcher(t *testing.T, opts Options) (*Dispatcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if opts.Builder == nil {
		opts.Builder = testBuilder(t, BuilderOptions{})
	}
	opts.Registerer = reg
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RetryMin == 0 {
		opts.RetryMin, opts.RetryMax = time.Millisecond, 5*time.Millisecond
	}
	d, err := NewDispatcher(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, reg
}

func closeWithin(t *testing.T, d *Dispatcher, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.Close(ctx)
}

// wantAlerts are the alert ids of a stuffing run's alerting decisions.
func wantAlerts(t *testing.T, b *Builder, tenant string, n int) []string {
	var out []string
	for _, d := range decisions(t, testEngine(t), stuffing(tenant, n)) {
		if a := b.Build(&d); a != nil {
			out = append(out, a.AlertID)
		}
	}
	return out
}

func TestDispatcherObservesTheEngine(t *testing.T) {
	sink := &recordSink{name: "rec"}
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	file, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	b := testBuilder(t, BuilderOptions{})
	d, reg := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: sink}, {Sink: file}}})
	decisions(t, testEngine(t, d), stuffing("acme", 12))
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	// Attempts 5-9 match password-spray, 10-12 also stuffing-burst; 3 and
	// 4 match only the shadow rule, whose alert flag must not count.
	if len(want) != 8 {
		t.Fatalf("scenario gives %d alerts, want 8", len(want))
	}
	if got := sink.ids(); !slices.Equal(got, want) {
		t.Fatalf("sink got %v, want %v", got, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var a Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("file line %q: %v", sc.Text(), err)
		}
		lines = append(lines, a.AlertID)
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("file has %v, want %v", lines, want)
	}

	if got := testutil.ToFloat64(d.queues[0].m.sent); got != 8 {
		t.Fatalf("riskgate_alerts_sent_total{sink=rec} = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "riskgate_alert_queue_length", "riskgate_alert_queue_capacity"); err != nil || n != 4 {
		t.Fatalf("queue gauges: %d series, %v", n, err)
	}
}

func TestDispatcherLogsWhenNoSink(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	d, _ := newDispatcher(t, Options{Logger: log})
	decisions(t, testEngine(t, d), stuffing("acme", 10))
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] != "alert" {
			continue
		}
		n++
		if rec["alert_id"] == "" || rec["decision_id"] == "" || rec["rules"] == nil {
			t.Fatalf("log line lacks identifiers: %s", line)
		}
		// Attempt values stay out of logs.
		for _, v := range []string{"203.0.113.7", "python-requests", "u-", "example.com"} {
			if strings.Contains(line, v) {
				t.Fatalf("log line carries %q: %s", v, line)
			}
		}
	}
	if n != 6 {
		t.Fatalf("%d alert log lines, want 6:\n%s", n, buf.String())
	}
}

func TestDispatcherRetriesUntilDelivered(t *testing.T) {
	// The first batch (one alert, sent while the rest are published)
	// fails three times; the second (the other seven) is delivered in
	// part and then whole.
	block := make(chan struct{})
	sink := &recordSink{name: "flaky", block: block, entered: make(chan struct{}, 1), fail: func(call int, batch []*Alert) (int, error) {
		switch {
		case call <= 3:
			return 0, errors.New("down")
		case call == 5:
			if len(batch) != 7 {
				t.Errorf("second batch has %d alerts, want 7", len(batch))
			}
			return 2, errors.New("partly down")
		}
		return len(batch), nil
	}}
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: sink}}})
	e := testEngine(t, d)
	as := stuffing("acme", 12)
	decisions(t, e, as[:5])
	<-sink.entered
	decisions(t, e, as[5:])
	close(block)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	if got := sink.ids(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want each of %v once, in order", got, want)
	}
	if got := testutil.ToFloat64(d.queues[0].m.errors); got != 4 {
		t.Fatalf("riskgate_alert_send_errors_total = %v, want 4", got)
	}
	if sink.calls != 6 {
		t.Fatalf("%d sends, want 6", sink.calls)
	}
}

func TestDispatcherDropsRejectedAlerts(t *testing.T) {
	sink := &recordSink{name: "picky", fail: func(call int, batch []*Alert) (int, error) {
		if call == 1 {
			return 0, Permanent(errors.New("400 bad request"))
		}
		return len(batch), nil
	}}
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: sink}}, MaxBatch: 1})
	decisions(t, testEngine(t, d), stuffing("acme", 12))
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	if got := sink.ids(); !slices.Equal(got, want[1:]) {
		t.Fatalf("delivered %v, want all but the first of %v", got, want)
	}
	if got := testutil.ToFloat64(d.queues[0].m.dropRejected); got != 1 {
		t.Fatalf("dropped{reason=rejected} = %v", got)
	}
}

func TestDispatcherFullQueueDropsNewest(t *testing.T) {
	block := make(chan struct{})
	stuck := &recordSink{name: "stuck", block: block, entered: make(chan struct{}, 1)}
	fast := &recordSink{name: "fast"}
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, MaxBatch: 1, Sinks: []SinkConfig{{Sink: stuck, QueueSize: 2}, {Sink: fast}}})
	e := testEngine(t, d)
	as := stuffing("acme", 12) // alerts from the 5th attempt on: 8
	decisions(t, e, as[:5])
	<-stuck.entered // the worker holds the first alert in Send
	start := time.Now()
	decisions(t, e, as[5:])
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("scoring took %v with a stuck sink", took)
	}
	close(block)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	// One alert was in Send and two waited in the queue: the five
	// published while the queue was full were dropped.
	if got := stuck.ids(); !slices.Equal(got, want[:3]) {
		t.Fatalf("stuck sink delivered %v, want %v", got, want[:3])
	}
	if dropped := testutil.ToFloat64(d.queues[0].m.dropFull); dropped != 5 {
		t.Fatalf("dropped{reason=queue_full} = %v, want 5", dropped)
	}
	if got := fast.ids(); !slices.Equal(got, want) {
		t.Fatalf("a stuck sink held back another: %v", got)
	}
}

func TestDispatcherCloseDeadline(t *testing.T) {
	down := &recordSink{name: "down", fail: func(int, []*Alert) (int, error) { return 0, errors.New("down") }}
	d, _ := newDispatcher(t, Options{Sinks: []SinkConfig{{Sink: down}}})
	decisions(t, testEngine(t, d), stuffing("acme", 12))
	start := time.Now()
	err := closeWithin(t, d, 100*time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Close took %v past its deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "8 alerts not delivered") {
		t.Fatalf("Close = %v, want 8 undelivered alerts reported", err)
	}
	if got := testutil.ToFloat64(d.queues[0].m.dropShutdown); got != 8 {
		t.Fatalf("dropped{reason=shutdown} = %v", got)
	}
	// After Close, alerts are counted, not queued.
	decisions(t, testEngine(t, d), stuffing("acme", 10))
	if got := testutil.ToFloat64(d.queues[0].m.dropClosed); got != 6 {
		t.Fatalf("dropped{reason=closed} = %v", got)
	}
}

func TestDispatcherSkipsClaimedAttempts(t *testing.T) {
	topic := &recordSink{name: "topic"}
	other := &recordSink{name: "other"}
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: topic, SkipClaimed: true}, {Sink: other}}})
	e := testEngine(t, d)
	as := stuffing("acme", 12)
	for i, a := range as {
		claimed := i%2 == 0
		if claimed {
			d.Claim(a.Tenant, a.AttemptID)
		}
		decisions(t, e, as[i:i+1])
		if claimed {
			d.Release(a.Tenant, a.AttemptID)
		}
	}
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	if got := other.ids(); !slices.Equal(got, want) {
		t.Fatalf("unclaiming sink got %v, want %v", got, want)
	}
	var odd []string
	for _, id := range want {
		var a *Alert
		for _, x := range other.got {
			if x.AlertID == id {
				a = x
			}
		}
		if n := a.AttemptID[len(a.AttemptID)-1]; (n-'0')%2 == 1 {
			odd = append(odd, id)
		}
	}
	if got := topic.ids(); !slices.Equal(got, odd) {
		t.Fatalf("skipping sink got %v, want only unclaimed %v", got, odd)
	}
	for i := range d.claims.shards {
		if m := d.claims.shards[i].m; len(m) != 0 {
			t.Fatalf("claims left after release: %v", m)
		}
	}
}

func TestDispatcherOptions(t *testing.T) {
	b := testBuilder(t, BuilderOptions{})
	if _, err := NewDispatcher(Options{}); err == nil {
		t.Fatal("no builder accepted")
	}
	if _, err := NewDispatcher(Options{Builder: b, Sinks: []SinkConfig{{Sink: &recordSink{name: "x"}}, {Sink: &recordSink{name: "x"}}}}); err == nil {
		t.Fatal("two sinks of one name accepted")
	}
	reg := prometheus.NewRegistry()
	d1, err := NewDispatcher(Options{Builder: b, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d1.Close(context.Background())
	if _, err := NewDispatcher(Options{Builder: b, Registerer: reg}); err == nil {
		t.Fatal("registering the metrics twice was not an error")
	}
}

func TestFileSinkReopensAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	file, err := OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newDispatcher(t, Options{Sinks: []SinkConfig{{Sink: file}}})
	e := testEngine(t, d)
	as := stuffing("acme", 12)
	decisions(t, e, as[:8]) // 4 alerts
	waitFor(t, func() bool { return testutil.ToFloat64(d.queues[0].m.sent) == 4 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Reopen(); err != nil {
		t.Fatal(err)
	}
	decisions(t, e, as[8:]) // 4 more
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path + ".1", path} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(data, []byte("\n")); n != 4 {
			t.Fatalf("%s has %d alerts, want 4", f, n)
		}
	}
}

// waitFor polls cond until it holds (a wait, not a timing assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDispatcherLingerGathersABurst: alerts that arrive while the first
// of them waits go to the sink with it, in one Send; Close ends the wait.
func TestDispatcherLingerGathersABurst(t *testing.T) {
	rec := &recordSink{name: "rec"}
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, Linger: time.Hour, Sinks: []SinkConfig{{Sink: rec}}})
	decisions(t, testEngine(t, d), stuffing("acme", 12))
	if err := closeWithin(t, d, 30*time.Second); err != nil {
		t.Fatalf("Close during the linger: %v", err)
	}
	want := wantAlerts(t, b, "acme", 12)
	if got := rec.ids(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if rec.calls != 1 {
		t.Errorf("%d Sends for a burst of %d alerts, want 1", rec.calls, len(want))
	}
}

// TestDispatcherLingerEnds: a lone alert is delivered once the linger is
// over, with no Close and no other alert to push it.
func TestDispatcherLingerEnds(t *testing.T) {
	for _, linger := range []time.Duration{0, 20 * time.Millisecond, -1} {
		rec := &recordSink{name: "rec"}
		d, _ := newDispatcher(t, Options{Linger: linger, Sinks: []SinkConfig{{Sink: rec}}})
		d.Publish(&Alert{AlertID: "lone"})
		waitFor(t, func() bool { return len(rec.ids()) == 1 })
		if err := closeWithin(t, d, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDispatcherLingerEndsWhenQueueFills: a queue smaller than a batch
// stops lingering once it is half full, rather than sitting full through
// the linger and dropping what arrives meanwhile. Half the queue (10
// alerts) goes without waiting for the hour's linger; what is published
// after that batch was taken may wait for the next (here: Close), so the
// test does not wait for all 20 before closing, which raced.
func TestDispatcherLingerEndsWhenQueueFills(t *testing.T) {
	for range 20 {
		rec := &recordSink{name: "rec"}
		d, _ := newDispatcher(t, Options{Linger: time.Hour, Sinks: []SinkConfig{{Sink: rec, QueueSize: 20}}})
		for i := range 20 {
			d.Publish(&Alert{AlertID: fmt.Sprint(i)})
		}
		waitFor(t, func() bool { return len(rec.ids()) >= 10 })
		if err := closeWithin(t, d, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.ids()); n != 20 {
			t.Fatalf("%d of 20 alerts delivered", n)
		}
		if dropped := testutil.ToFloat64(d.queues[0].m.dropFull); dropped != 0 {
			t.Fatalf("%v alerts dropped on a queue that had room", dropped)
		}
	}
}

// blockingWriter blocks every write until released: standard error that
// nobody reads.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

// TestPublishNeverWaitsForTheLog: with the log stuck (the log sink's
// standard error not read), Publish on a full queue still returns.
func TestPublishNeverWaitsForTheLog(t *testing.T) {
	w := blockingWriter{make(chan struct{})}
	log := slog.New(slog.NewTextHandler(w, nil))
	d, _ := newDispatcher(t, Options{Logger: log, Sinks: []SinkConfig{{Sink: NewLogSink(log), QueueSize: 2}}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			d.Publish(&Alert{AlertID: "a"})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish waited for a stuck log")
	}
	close(w.release)
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestAlertDeliveryDelay: each alert a sink took counts its delay from
// its decision's time, a retry's included; a time ahead of the node's
// counts 0, and a notification (held for its outcome by design) does not
// count.
func TestAlertDeliveryDelay(t *testing.T) {
	sink := &recordSink{name: "soc", fail: func(call int, batch []*Alert) (int, error) {
		if call == 1 {
			return 0, errors.New("down")
		}
		return len(batch), nil
	}}
	d, _ := newDispatcher(t, Options{Sinks: []SinkConfig{{Sink: sink}}})
	now := time.Now()
	d.Publish(&Alert{AlertID: "late", Time: now.Add(-90 * time.Second)})
	d.Publish(&Alert{AlertID: "on-time", Time: now})
	d.Publish(&Alert{AlertID: "ahead", Time: now.Add(time.Hour)})
	d.Publish(&Alert{AlertID: "notification", Time: now.Add(-time.Hour), Notification: &Notification{}})
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := sink.ids(); len(got) != 4 {
		t.Fatalf("delivered %v, want all four", got)
	}
	var m dto.Metric
	if err := d.queues[0].m.delay.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	h := m.GetHistogram()
	if h.GetSampleCount() != 3 {
		t.Errorf("%d delays, want 3 (the alerts, not the notification)", h.GetSampleCount())
	}
	if sum := h.GetSampleSum(); sum < 90 || sum > 90+2*60 {
		t.Errorf("delays sum to %.1f s, want the late alert's 90 s and little more", sum)
	}
}
