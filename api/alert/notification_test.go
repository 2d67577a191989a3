package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

// alice is a user with a laptop at home in Paris.
func alice(after time.Duration) engine.Attempt {
	return engine.Attempt{
		Tenant: "acme", AttemptID: fmt.Sprintf("alice-%d", after/time.Hour), Time: t0.Add(after),
		UserID: "u-alice", Username: "Alice@Example.com", IP: "81.2.69.160", DeviceID: "laptop-1",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		Result:    engine.ResultPasswordOK, Channel: "web", Geo: &engine.GeoHint{Country: "FR", Lat: ptr(48.8566), Lon: ptr(2.3522)},
	}
}

func ptr[T any](v T) *T { return &v }

// notifyRun drives the default rules on a real engine, with a dispatcher
// publishing to a JSONL sink and a signed webhook, through Alice's
// history and the logins that should and should not notify her, and
// returns what each sink received.
func notifyRun(t *testing.T, opts BuilderOptions) (jsonl []byte, posts []http.Header, bodies [][]byte) {
	t.Helper()
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := VerifySignature([]byte("0123456789abcdef"), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), b, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		mu.Lock()
		posts, bodies = append(posts, r.Header.Clone()), append(bodies, b)
		mu.Unlock()
	}))
	defer hook.Close()
	wh, err := NewWebhookSink(WebhookOptions{URL: hook.URL, Secret: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	var buf syncbuf.Buffer
	opts.Notify.Enabled = true
	d, err := NewDispatcher(Options{Builder: testBuilder(t, opts), Sinks: []SinkConfig{
		{Sink: NewWriterSink("jsonl", &buf)}, {Sink: wh},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	e := NewTestEngine(t, engine.Options{Observers: []engine.Observer{d},
		NewID: func(time.Time) string { return fmt.Sprintf("01JD%022d", n.Add(1)) }})
	ctx := context.Background()
	score := func(a engine.Attempt) engine.Decision {
		t.Helper()
		dec, err := e.Score(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
	report := func(dec engine.Decision, o engine.OutcomeKind) {
		t.Helper()
		if err := e.Report(ctx, engine.Outcome{Tenant: "acme", DecisionID: dec.DecisionID, Outcome: o}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		score(alice(time.Duration(i) * 24 * time.Hour))
	}
	h := 5 * 24 * time.Hour

	// A wrong password from a new device: no one is told.
	a := alice(h)
	a.DeviceID, a.Result = "attacker-box", engine.ResultPasswordBad
	if dec := score(a); len(dec.Notify) != 0 {
		t.Errorf("failed attempt carries notify %v", dec.Notify)
	}
	// Her new phone at home, right password: allowed, and she is told now.
	a = alice(h + time.Hour)
	a.DeviceID = "phone-1"
	if dec := score(a); dec.Action != engine.ActionAllow || !slices.Equal(dec.Notify, []string{"new_device"}) {
		t.Fatalf("new phone: %s notify %v", dec.Action, dec.Notify)
	}
	// A thief with her password in Brazil: stepped up, fails it: no one
	// is told (the step-up code she received is the warning).
	a = alice(h + 30*time.Hour)
	a.DeviceID, a.IP, a.Geo = "thief", "177.10.0.1", &engine.GeoHint{Country: "BR", Lat: ptr(-23.55), Lon: ptr(-46.63)}
	thief := score(a)
	if thief.Action != engine.ActionStepUp || !slices.Equal(thief.Notify, []string{"new_device", "new_country"}) {
		t.Fatalf("thief: %s notify %v", thief.Action, thief.Notify)
	}
	report(thief, engine.StepUpFailed)
	// Alice travels to Japan with a new tablet, passes the step-up: told
	// once the step-up passed.
	a = alice(h + 60*time.Hour)
	a.DeviceID, a.IP, a.Geo = "tablet-1", "133.1.2.3", &engine.GeoHint{Country: "JP", Lat: ptr(35.68), Lon: ptr(139.69)}
	trip := score(a)
	if trip.Action != engine.ActionStepUp {
		t.Fatalf("trip: %s", trip.Action)
	}
	report(trip, engine.StepUpPassed)
	// Analyst labels and unknown decisions change nothing.
	report(trip, engine.ConfirmedLegit)
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), posts, bodies
}

func TestNotificationsOfCompletedLogins(t *testing.T) {
	s := compileNotificationSchema(t)
	jsonl, posts, bodies := notifyRun(t, BuilderOptions{})
	lines := bytes.Split(bytes.TrimSpace(jsonl), []byte("\n"))
	var notes []Notification
	for _, l := range lines {
		var head struct{ Schema string }
		if err := json.Unmarshal(l, &head); err != nil {
			t.Fatal(err)
		}
		if head.Schema != NotificationSchemaID {
			continue // an alert (impossible travel to Japan alerts)
		}
		if err := validate(s, l); err != nil {
			t.Fatalf("notification does not match the schema: %v\n%s", err, l)
		}
		var n Notification
		if err := json.Unmarshal(l, &n); err != nil {
			t.Fatal(err)
		}
		notes = append(notes, n)
	}
	if len(notes) != 2 {
		t.Fatalf("%d notifications, want 2 (the phone, the trip):\n%s", len(notes), jsonl)
	}
	phone, trip := notes[0], notes[1]
	if !slices.Equal(phone.Kinds, []string{"new_device"}) || phone.CompletedBy != CompletedByPassword ||
		phone.Login.Country != "FR" || phone.Login.Browser != "chrome" {
		t.Errorf("phone: %+v", phone)
	}
	if !slices.Equal(trip.Kinds, []string{"new_device", "new_country"}) || trip.CompletedBy != CompletedByStepUp ||
		trip.Login.Country != "JP" || trip.Login.IP != "133.1.2.3" {
		t.Errorf("trip: %+v", trip)
	}
	for _, n := range notes {
		if n.User.ID != "u-alice" || n.User.Username != "" || len(n.User.UsernameHash) != 32 || n.Tenant != "acme" ||
			n.NotificationID != NotificationID("acme", n.DecisionID) {
			t.Errorf("who: %+v, id %s", n.User, n.NotificationID)
		}
	}
	// No value of the attempt that is not for the user's eyes.
	for _, secret := range []string{"laptop-1", "tablet-1", "Mozilla/5.0", "alice@example.com"} {
		if bytes.Contains(notesJSON(t, notes), []byte(secret)) {
			t.Errorf("a notification carries %q", secret)
		}
	}

	// The webhook got the same notifications, labelled by schema.
	var hooked []string
	for i, h := range posts {
		if h.Get(HeaderSchema) == NotificationSchemaID {
			hooked = append(hooked, h.Get(HeaderAlertID))
			if err := validate(s, bodies[i]); err != nil {
				t.Errorf("webhook body: %v", err)
			}
		}
	}
	if !slices.Equal(hooked, []string{phone.NotificationID, trip.NotificationID}) {
		t.Errorf("webhook notification ids %v, want %s %s", hooked, phone.NotificationID, trip.NotificationID)
	}

	// The golden notification, without the default rules' version (which
	// every edit of them changes).
	trip.RulesVersion = "(default rules)"
	var pretty bytes.Buffer
	if err := jsonIndent(&pretty, mustJSON(t, trip)); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "notification.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("notification differs from %s (run with -update if intended):\n%s", golden, pretty.Bytes())
	}
}

func notesJSON(t *testing.T, notes []Notification) []byte {
	t.Helper()
	b, err := json.Marshal(notes)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNotificationUsernamePolicies(t *testing.T) {
	s := compileNotificationSchema(t)
	for _, tt := range []struct {
		policy UsernamePolicy
		check  func(User) bool
	}{
		{UsernamePlain, func(u User) bool { return u.Username == "alice@example.com" && u.UsernameHash == "" }},
		{UsernameOmit, func(u User) bool { return u.Username == "" && u.UsernameHash == "" }},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			jsonl, _, _ := notifyRun(t, BuilderOptions{Usernames: tt.policy})
			n := 0
			for _, l := range bytes.Split(bytes.TrimSpace(jsonl), []byte("\n")) {
				var x Notification
				if json.Unmarshal(l, &x) != nil || x.Schema != NotificationSchemaID {
					continue
				}
				n++
				if err := validate(s, l); err != nil {
					t.Fatal(err)
				}
				if x.User.ID != "u-alice" || !tt.check(x.User) {
					t.Errorf("user %+v", x.User)
				}
			}
			if n != 2 {
				t.Fatalf("%d notifications", n)
			}
		})
	}
}

func TestNotificationsOff(t *testing.T) {
	var buf syncbuf.Buffer
	d, err := NewDispatcher(Options{Builder: testBuilder(t, BuilderOptions{}), Sinks: []SinkConfig{{Sink: NewWriterSink("jsonl", &buf)}}})
	if err != nil {
		t.Fatal(err)
	}
	e := NewTestEngine(t, engine.Options{Observers: []engine.Observer{d}})
	for i := range 5 {
		if _, err := e.Score(context.Background(), alice(time.Duration(i)*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	a := alice(6 * 24 * time.Hour)
	a.DeviceID = "phone-1"
	if dec, err := e.Score(context.Background(), a); err != nil || len(dec.Notify) == 0 {
		t.Fatalf("score: %v, notify %v", err, dec.Notify)
	}
	d.Close(context.Background())
	if b := buf.Bytes(); bytes.Contains(b, []byte(NotificationSchemaID)) {
		t.Fatalf("notifications off, published:\n%s", b)
	}
}

// TestHeldNotificationsAreBounded: a step-up whose outcome never comes
// holds its notification until the TTL or until newer ones push it out.
func TestHeldNotificationsAreBounded(t *testing.T) {
	var evicted atomic.Int64
	x := newNotify(time.Minute, 2, func() { evicted.Add(1) })
	now := t0
	x.now = func() time.Time { return now }
	b := testBuilder(t, BuilderOptions{})
	dec := func(id string) *engine.Decision {
		d := &engine.Decision{DecisionID: id, Tenant: "acme", Action: engine.ActionStepUp, Notify: []string{"new_device"}, Time: t0}
		d.Signals.Attempt.UserID = "u-1"
		return d
	}
	at := &engine.Attempt{Result: engine.ResultPasswordOK}
	for _, id := range []string{"d1", "d2", "d3"} {
		if n := x.decided(b, at, dec(id)); n != nil {
			t.Fatal("a step-up published before it passed")
		}
	}
	if x.len() != 2 || evicted.Load() != 1 {
		t.Fatalf("held %d, evicted %d", x.len(), evicted.Load())
	}
	if n := x.reported(&engine.Outcome{Tenant: "acme", DecisionID: "d1", Outcome: engine.StepUpPassed}); n != nil {
		t.Error("the evicted one was published")
	}
	if n := x.reported(&engine.Outcome{Tenant: "acme", DecisionID: "d2", Outcome: engine.StepUpPassed}); n == nil || n.CompletedBy != CompletedByStepUp {
		t.Errorf("d2: %+v", n)
	}
	if n := x.reported(&engine.Outcome{Tenant: "acme", DecisionID: "d2", Outcome: engine.StepUpPassed}); n != nil {
		t.Error("published twice")
	}
	now = now.Add(2 * time.Minute)
	if n := x.reported(&engine.Outcome{Tenant: "acme", DecisionID: "d3", Outcome: engine.StepUpPassed}); n != nil {
		t.Error("an expired one was published")
	}
	// A decision without a user id has no one to tell.
	d := dec("d4")
	d.Signals.Attempt.UserID = ""
	if x.decided(b, at, d) != nil || x.len() != 0 {
		t.Error("held a notification for no one")
	}
	// Scored before the password check as the first of two Scores: the
	// second notifies (or holds) for the login, and this one's outcome
	// never comes.
	for _, a := range []engine.Action{engine.ActionAllow, engine.ActionStepUp} {
		d := dec("d5-" + a.String())
		d.Action = a
		if x.decided(b, &engine.Attempt{Result: engine.ResultUnknown, BeforePassword: true}, d) != nil || x.len() != 0 {
			t.Errorf("%s before_password: held %d notifications, want none", a, x.len())
		}
	}
}

func compileNotificationSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(NotificationSchemaJSON()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("notification.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("notification.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNotificationSchemaRejects(t *testing.T) {
	s := compileNotificationSchema(t)
	good, err := os.ReadFile(filepath.Join("testdata", "notification.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(s, good); err != nil {
		t.Fatalf("golden notification invalid: %v", err)
	}
	for _, tt := range []struct{ name, old, new string }{
		{"no user id", `"id": "u-alice",`, ``},
		{"alert schema", `"riskgate.notification.v1"`, `"riskgate.alert.v1"`},
		{"no kinds", `"kinds": [`, `"kinds": [], "x": [`},
		{"unknown completion", `"completed_by": "step_up"`, `"completed_by": "magic_link"`},
		{"raw user agent", `"login": {`, `"login": {"user_agent": "Mozilla/5.0",`},
		{"password hash", `"schema": "riskgate.notification.v1",`, `"schema": "riskgate.notification.v1", "password_sha1": "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(string(good), tt.old, tt.new, 1)
			if doc == string(good) {
				t.Fatalf("%q not found in the golden notification", tt.old)
			}
			if validate(s, []byte(doc)) == nil {
				t.Fatal("accepted")
			}
		})
	}
}
