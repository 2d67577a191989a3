package alert

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// heldCases are notifications as a held form must give them back: every
// field but the id and the completion, which the form leaves out.
var heldCases = []Notification{
	{},
	{
		Tenant: "acme", AttemptID: "alice-144", DecisionID: "01JD8X4Y4ZQ7W9V3K2M1N0P5RS", Time: time.Date(2026, 12, 5, 3, 4, 5, 678901234, time.UTC),
		Kinds:        []string{"new_device", "new_country"},
		User:         User{ID: "u-alice", UsernameHash: "9f86d081884c7d659a2feaa0c55ad015"},
		Login:        Login{IP: "2001:db8::1", Country: "FR", Subdivision: "IDF", City: "Paris", Browser: "Chrome", OS: "Windows", DeviceType: "desktop", Channel: "web"},
		Rules:        []NotifyRule{{ID: "new-device", Kind: "new_device", Message: "Sign-in from a new device"}, {ID: "new-country", Kind: "new_country", Message: "Sign-in from a new country"}},
		RulesVersion: "sha256:1e7ca68cc234",
	},
	{
		Tenant: "t", DecisionID: "d", Time: time.Date(1901, 1, 2, 3, 4, 5, 0, time.UTC), Kinds: []string{""},
		User: User{ID: "ü-ßer ☃", Username: strings.Repeat("x", 300)}, Rules: []NotifyRule{{}},
	},
	{Tenant: "far", DecisionID: "future", Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Kinds: []string{}, Rules: []NotifyRule{}},
}

func TestHeldFormRoundTrip(t *testing.T) {
	for i, n := range heldCases {
		form := appendHeld(nil, &n)
		got, ok := decodeHeld(form)
		if !ok {
			t.Fatalf("case %d: form %x does not decode", i, form)
		}
		want := n
		want.Schema = NotificationSchemaID
		if want.Kinds == nil {
			want.Kinds = []string{}
		}
		if want.Rules == nil {
			want.Rules = []NotifyRule{}
		}
		if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
			t.Errorf("case %d: time %v, want %v in UTC", i, got.Time, want.Time)
		}
		got.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("case %d:\n got %+v\nwant %+v", i, *got, want)
		}
		// Every strict prefix is refused, and so is a byte too many.
		for j := range form {
			if _, ok := decodeHeld(form[:j]); ok {
				t.Errorf("case %d: the first %d of %d bytes decoded", i, j, len(form))
			}
		}
		if _, ok := decodeHeld(append(form, 0)); ok {
			t.Errorf("case %d: a trailing byte was accepted", i)
		}
	}
}

// FuzzHeldForm: any bytes decode without a panic, and what decodes
// encodes back to the same bytes (the form has one encoding per value).
func FuzzHeldForm(f *testing.F) {
	for _, n := range heldCases {
		f.Add(appendHeld(nil, &n))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, form []byte) {
		n, ok := decodeHeld(form)
		if !ok {
			return
		}
		if again := appendHeld(nil, n); string(again) != string(form) {
			t.Fatalf("%x decoded to %+v, which encodes to %x", form, n, again)
		}
	})
}

// TestHeldNotificationsAreCompact: held notifications are next to no
// objects on the heap (bytes in a heldqueue), not a Notification with its
// strings and slices, nor a form and an LRU entry each: the collector
// would trace those on every cycle for up to NotifyHoldEntries of them.
func TestHeldNotificationsAreCompact(t *testing.T) {
	const n = 20_000
	x := newNotify(time.Hour, 2*n, func() {}) // room to spare: the bound is per shard
	b := testBuilder(t, BuilderOptions{Usernames: UsernameHash})
	decs := make([]*engine.Decision, n)
	for i := range decs {
		d := &engine.Decision{DecisionID: engine.Key{byte(i), byte(i >> 8), byte(i >> 16)}.String(), Tenant: "acme", Action: engine.ActionStepUp, Time: t0,
			Notify: []string{"new_device"}, Reasons: []engine.Reason{{RuleID: "new-device", Notify: "new_device", Message: "Sign-in from a new device"}}}
		d.Signals.Attempt.UserID, d.Signals.Attempt.Username, d.Signals.Attempt.IP = "u-1", "alice", "81.2.69.160"
		decs[i] = d
	}
	at := &engine.Attempt{Result: engine.ResultPasswordOK}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, d := range decs {
		x.decided(b, at, d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if x.len() != n {
		t.Fatalf("held %d of %d", x.len(), n)
	}
	perNote := float64(after.HeapObjects-before.HeapObjects) / n
	t.Logf("%.2f heap objects, %.0f bytes a held notification", perNote, float64(after.HeapAlloc-before.HeapAlloc)/n)
	if perNote > 0.05 {
		t.Errorf("%.2f heap objects a held notification, want next to none", perNote)
	}
	if perByte := float64(after.HeapAlloc-before.HeapAlloc) / n; perByte > 500 {
		t.Errorf("%.0f bytes a held notification, want 500 at most", perByte)
	}
	// And each comes back whole.
	got := x.reported(&engine.Outcome{Tenant: "acme", DecisionID: decs[7].DecisionID, Outcome: engine.StepUpPassed})
	want := b.Notification(decs[7], CompletedByStepUp)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reported:\n got %+v\nwant %+v", got, want)
	}
}

// TestHeldNotificationsConcurrently: decisions held and completed from
// many goroutines at once each come back as their own notification.
func TestHeldNotificationsConcurrently(t *testing.T) {
	x := newNotify(time.Hour, 10_000, func() { t.Error("evicted") })
	b := testBuilder(t, BuilderOptions{})
	at := &engine.Attempt{Result: engine.ResultPasswordOK}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				d := &engine.Decision{DecisionID: fmt.Sprintf("g%d-d%d", g, i), Tenant: "acme", Action: engine.ActionStepUp, Time: t0.Add(time.Duration(i) * time.Second),
					Notify: []string{"new_country"}, Reasons: []engine.Reason{{RuleID: "new-country", Notify: "new_country", Message: fmt.Sprint("from ", g, i)}}}
				d.Signals.Attempt.UserID = fmt.Sprintf("u-%d-%d", g, i)
				if x.decided(b, at, d) != nil {
					t.Error("a step-up published before it passed")
					return
				}
				got := x.reported(&engine.Outcome{Tenant: "acme", DecisionID: d.DecisionID, Outcome: engine.StepUpPassed})
				if want := b.Notification(d, CompletedByStepUp); !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", d.DecisionID, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if x.len() != 0 {
		t.Errorf("%d still held", x.len())
	}
}

// heldUser singles out a held form by its tenant and user id exactly,
// as Forget names them: not another tenant's user of the same id, nor a
// user whose id only begins or ends like theirs.
func TestHeldUser(t *testing.T) {
	form := appendHeld(nil, &heldCases[1])
	for _, c := range []struct {
		tenant, user string
		want         bool
	}{
		{"acme", "u-alice", true},
		{"beta", "u-alice", false},
		{"acme", "u-alic", false},
		{"acme", "u-alice2", false},
		{"acm", "u-alice", false},
		{"acme", "", false},
	} {
		if got := heldUser(form, c.tenant, c.user); got != c.want {
			t.Errorf("heldUser(%s, %s) = %v, want %v", c.tenant, c.user, got, c.want)
		}
	}
	if cut := strings.Index(string(form), "u-alice") + 3; heldUser(form[:cut], "acme", "u-alice") {
		t.Error("a form cut short in the user id is the user's")
	}
}
