package alert

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

// TestQueueTenantShare: the sink queues were shared by every tenant, so
// that one tenant whose overlay alerts on every login filled a slow
// sink's queue and the other tenants' alerts were dropped (queue_full).
// Once a second tenant has alerted, a tenant may fill only its share of
// each queue: past it, its own new alerts are dropped, counted with
// reason tenant_share and logged with the tenant, and the others' still
// queue. A node that only ever sees one tenant fills the whole queue, as
// before, and a share of 1 turns the cap off.
func TestQueueTenantShare(t *testing.T) {
	for _, tc := range []struct {
		name          string
		share         float64
		before, after []string // tenants of the alerts before and after acme's flood of 20
		wantDelivered []string // tenants of the alerts delivered, in order
		full, shared  float64  // dropped queue_full and tenant_share
	}{
		{"two tenants", 0, []string{"beta"}, []string{"beta", "beta", "beta"},
			[]string{"beta", "acme", "acme", "acme", "acme", "acme", "beta", "beta", "beta"}, 0, 15},
		{"a quarter each", 0.25, []string{"beta"}, []string{"gamma", "beta", "gamma"},
			[]string{"beta", "acme", "acme", "gamma", "beta", "gamma"}, 0, 18},
		{"one tenant alone", 0, []string{"acme"}, nil,
			slices.Repeat([]string{"acme"}, 11), 10, 0},
		{"no per-tenant share", 1, []string{"beta"}, []string{"beta"},
			append([]string{"beta"}, slices.Repeat([]string{"acme"}, 10)...), 11, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			block := make(chan struct{})
			stuck := &recordSink{name: "stuck", block: block, entered: make(chan struct{}, 1)}
			var logs syncbuf.Buffer
			d, _ := newDispatcher(t, Options{
				MaxBatch: 1, Linger: -1, TenantShare: tc.share, Sinks: []SinkConfig{{Sink: stuck, QueueSize: 10}},
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), dropReport: time.Hour,
			})
			n := 0
			publish := func(tenant string) {
				n++
				d.Publish(&Alert{Tenant: tenant, AlertID: fmt.Sprintf("%s-%02d", tenant, n)})
			}
			for _, tenant := range tc.before {
				publish(tenant)
			}
			<-stuck.entered // the first alert is in Send, out of the queue
			for range 20 {
				publish("acme")
			}
			for _, tenant := range tc.after {
				publish(tenant)
			}
			close(block)
			if err := closeWithin(t, d, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range stuck.ids() {
				got = append(got, id[:strings.IndexByte(id, '-')])
			}
			if !slices.Equal(got, tc.wantDelivered) {
				t.Errorf("delivered %v, want %v", got, tc.wantDelivered)
			}
			q := d.queues[0]
			if full := testutil.ToFloat64(q.m.dropFull); full != tc.full {
				t.Errorf("dropped{reason=queue_full} %v, want %v", full, tc.full)
			}
			shared := 0.0
			if q.m.dropShare != nil {
				shared = testutil.ToFloat64(q.m.dropShare)
			}
			if shared != tc.shared {
				t.Errorf("dropped{reason=tenant_share} %v, want %v", shared, tc.shared)
			}
			line := fmt.Sprintf(`msg="a tenant's share of the alert queue is full; its alerts dropped" sink=stuck tenant=acme dropped=%v`, tc.shared)
			if strings.Contains(logs.String(), line) != (tc.shared > 0) || strings.Count(logs.String(), "share of the alert queue") != min(1, int(tc.shared)) {
				t.Errorf("log, want %q once if any dropped:\n%s", line, logs.String())
			}
			for i := range q.share.nOrNil() {
				if v := q.share.n[i].Load(); v != 0 {
					t.Errorf("tenant slot %d still counts %d queued alerts", i, v)
				}
			}
		})
	}
}

// nOrNil ranges over the share's slots, none without a share.
func (sh *shares) nOrNil() int {
	if sh == nil {
		return 0
	}
	return len(sh.n)
}

// TestHeldTenantShare: the held notifications (100,000 by default) were
// shared by every tenant, the oldest going for room: one tenant's
// step-ups on every login pushed the others' out before their users
// passed their step-ups, and they were never told. Once a second tenant
// has notified, a tenant may hold only its share: past it, its own new
// notification is dropped (riskgate_notifications_evicted_total{reason=
// "tenant_share"}), and the others' stay. A notification published,
// expired, erased or evicted for room gives its tenant's room back.
func TestHeldTenantShare(t *testing.T) {
	b := testBuilder(t, BuilderOptions{})
	at := &engine.Attempt{Result: engine.ResultPasswordOK}
	type step struct {
		op, tenant, id string // op: hold, pass (step_up_passed), forget, wait (past the hold)
		held           bool   // hold: held (not dropped); pass: published
	}
	for _, tc := range []struct {
		name         string
		share        float64
		steps        []step
		full, shared int64
	}{
		{"a flood beside another tenant", 0.5, []step{
			{"hold", "beta", "b1", true},
			{"hold", "acme", "a1", true}, {"hold", "acme", "a2", true}, {"hold", "acme", "a3", true},
			{"hold", "acme", "a4", false}, {"hold", "acme", "a5", false},
			{"hold", "beta", "b2", true}, {"hold", "beta", "b3", true},
			{"pass", "beta", "b1", true}, {"pass", "acme", "a1", true}, {"pass", "acme", "a4", false},
			// a1 published: acme has room for one more.
			{"hold", "acme", "a6", true}, {"hold", "acme", "a7", false},
			// Erased: its room is back.
			{"forget", "acme", "u-a2", false}, {"hold", "acme", "a8", true},
			// Expired: all of it back.
			{"wait", "", "", false},
			{"hold", "acme", "a9", true}, {"hold", "acme", "a10", true}, {"hold", "acme", "a11", true}, {"hold", "acme", "a12", false},
		}, 0, 4},
		{"evicted for room", 0.5, []step{
			{"hold", "a", "a1", true}, {"hold", "a", "a2", true}, {"hold", "a", "a3", true},
			{"hold", "b", "b1", true}, {"hold", "b", "b2", true}, {"hold", "b", "b3", true},
			{"hold", "c", "c1", true}, // pushes out a1: a has room again
			{"hold", "a", "a4", true},
			{"pass", "a", "a1", false}, {"pass", "a", "a4", true},
		}, 2, 0},
		{"one tenant alone", 0.5, []step{
			{"hold", "acme", "a1", true}, {"hold", "acme", "a2", true}, {"hold", "acme", "a3", true},
			{"hold", "acme", "a4", true}, {"hold", "acme", "a5", true}, {"hold", "acme", "a6", true},
			{"hold", "acme", "a7", true}, // a1 went for room, as before
			{"pass", "acme", "a1", false}, {"pass", "acme", "a7", true},
		}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var full, shared int64
			x := newNotify(time.Minute, 6, func() { full++ })
			x.shareOf(newTenantTable(), tc.share, func() { shared++ })
			now := t0
			x.now = func() time.Time { return now }
			for i, s := range tc.steps {
				switch s.op {
				case "hold":
					d := &engine.Decision{DecisionID: s.id, Tenant: s.tenant, Action: engine.ActionStepUp, Notify: []string{"new_device"}, Time: t0}
					d.Signals.Attempt.UserID = "u-" + s.id
					before := shared
					if n := x.decided(b, at, d); n != nil {
						t.Fatalf("step %d: a step-up published before it passed", i)
					}
					if held := shared == before; held != s.held {
						t.Errorf("step %d: %s's %s held %v, want %v", i, s.tenant, s.id, held, s.held)
					}
				case "pass":
					n := x.reported(&engine.Outcome{Tenant: s.tenant, DecisionID: s.id, Outcome: engine.StepUpPassed})
					if (n != nil) != s.held {
						t.Errorf("step %d: %s's %s published %v, want %v", i, s.tenant, s.id, n != nil, s.held)
					}
				case "forget":
					x.forget(s.tenant, s.id)
				case "wait":
					now = now.Add(2 * time.Minute)
				}
			}
			if full != tc.full || shared != tc.shared {
				t.Errorf("evicted: hold_full %d, tenant_share %d; want %d, %d", full, shared, tc.full, tc.shared)
			}
		})
	}
}

// TestTenantShareOption: a share that is no fraction of (0, 1] stops the
// dispatcher, naming the flag; 0 is the default.
func TestTenantShareOption(t *testing.T) {
	b := testBuilder(t, BuilderOptions{})
	for _, share := range []float64{-0.5, 1.5, math.NaN(), math.Inf(1)} {
		_, err := NewDispatcher(Options{Builder: b, TenantShare: share, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "--alerts-tenant-share") {
			t.Errorf("share %v: %v", share, err)
		}
	}
	d, err := NewDispatcher(Options{Builder: b, Sinks: []SinkConfig{{Sink: &recordSink{name: "r"}, QueueSize: 10}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer closeWithin(t, d, time.Second)
	if d.opts.TenantShare != DefaultTenantShare || d.queues[0].share.limit != 5 {
		t.Errorf("default share %v, limit %d", d.opts.TenantShare, d.queues[0].share.limit)
	}
}

// TestPublishTenantShareAllocs: a tenant past its share has its alerts
// dropped as tenant_share, and the shares take no allocation on the
// scoring path once a tenant has been seen (a tenant's first alert
// allocates its name's slot, once per process).
func TestPublishTenantShareAllocs(t *testing.T) {
	block := make(chan struct{})
	stuck := &recordSink{name: "stuck", block: block, entered: make(chan struct{}, 1)}
	d, _ := newDispatcher(t, Options{Linger: -1, Sinks: []SinkConfig{{Sink: stuck, QueueSize: 4}}})
	defer func() {
		close(block)
		closeWithin(t, d, time.Second)
	}()
	acme, beta := &Alert{Tenant: "acme"}, &Alert{Tenant: "beta"}
	d.Publish(acme)
	<-stuck.entered // in Send, out of the queue
	d.Publish(beta)
	if n := testing.AllocsPerRun(100, func() {
		d.Publish(acme)
		d.Publish(beta)
	}); n != 0 {
		t.Errorf("Publish allocated %v times a run", n)
	}
	// Each tenant queues two (its share of a queue of 4): acme's in the
	// first two runs, beta's in the first (its other before them); the
	// other 199 were dropped past their share, none for a full queue.
	q := d.queues[0]
	if q.m.dropShare == nil {
		t.Fatal("no tenant_share drop counter")
	}
	if share, full := testutil.ToFloat64(q.m.dropShare), testutil.ToFloat64(q.m.dropFull); share != 199 || full != 0 {
		t.Fatalf("dropped: tenant_share %v, queue_full %v; want 199, 0", share, full)
	}
}
