package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/api/client/clienttest"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// faulty is a riskgate stand-in that hangs, is overloaded or fails, over
// gRPC and HTTP, counting the requests that reach it.
type faulty struct {
	pb.UnimplementedRiskServiceServer
	mode  string // hang, overloaded, internal
	calls atomic.Int64
	body  atomic.Value // the last HTTP request body
}

func (f *faulty) Score(ctx context.Context, _ *pb.ScoreRequest) (*pb.Decision, error) {
	return nil, f.fail(ctx)
}

func (f *faulty) Report(ctx context.Context, _ *pb.ReportRequest) (*pb.ReportResponse, error) {
	return nil, f.fail(ctx)
}

func (f *faulty) fail(ctx context.Context) error {
	f.calls.Add(1)
	switch f.mode {
	case "hang":
		<-ctx.Done()
		return ctx.Err()
	case "overloaded":
		return status.Error(codes.ResourceExhausted, "too many requests")
	case "canceled":
		return status.Error(codes.Canceled, "canceled")
	}
	return status.Error(codes.Internal, "internal error")
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	f.body.Store(string(body))
	switch f.mode {
	case "hang":
		<-r.Context().Done()
	case "overloaded":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":{"code":"resource_exhausted","message":"too many requests"}}`)
	case "canceled":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(499)
		_, _ = io.WriteString(w, `{"error":{"code":"canceled","message":"canceled"}}`)
	default:
		// What a proxy in front of a dead riskgate answers.
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<html>oops</html>")
	}
}

// start serves f on gRPC and HTTP and returns the two targets.
func (f *faulty) start(t *testing.T) (grpcTarget, httpTarget string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterRiskServiceServer(gs, f)
	go func() { _ = gs.Serve(l) }()
	hs := httptest.NewServer(f)
	t.Cleanup(func() {
		gs.Stop()
		hs.CloseClientConnections()
		hs.Close()
	})
	return l.Addr().String(), hs.URL
}

// refusedAddr is a loopback port nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// recorder is an Observer keeping every call.
type recorder struct {
	mu      sync.Mutex
	done    []client.Call
	changes []client.BreakerState
}

func (r *recorder) CallDone(c client.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, c)
}

func (r *recorder) BreakerChanged(_, to client.BreakerState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, to)
}

func (r *recorder) calls() []client.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.Call(nil), r.done...)
}

// TestFailover: a riskgate that hangs, is overloaded, fails or refuses
// connections gives the failover action, marked, counted, with the cause;
// the circuit opens after Breaker.Failures failed calls (a call's retries
// are one failure, not several), and from then on nothing is sent.
func TestFailover(t *testing.T) {
	const failures = 3
	cases := []struct {
		mode      string
		transport string
		policy    client.Action
		cause     client.Cause
		tries     int // sends per call (a retry of a refused connection)
	}{
		{"hang", "grpc", client.StepUp, client.CauseTimeout, 1},
		{"hang", "http", client.Allow, client.CauseTimeout, 1},
		{"overloaded", "grpc", client.Deny, client.CauseOverloaded, 1},
		{"overloaded", "http", client.StepUp, client.CauseOverloaded, 1},
		{"internal", "grpc", client.StepUp, client.CauseServerError, 1},
		{"internal", "http", client.Deny, client.CauseServerError, 1},
		{"refused", "grpc", client.Allow, client.CauseUnavailable, 2},
		{"refused", "http", client.StepUp, client.CauseUnavailable, 2},
	}
	for _, tc := range cases {
		t.Run(tc.mode+"/"+tc.transport, func(t *testing.T) {
			f := &faulty{mode: tc.mode}
			var target string
			if tc.mode == "refused" {
				target = refusedAddr(t)
				if tc.transport == "http" {
					target = "http://" + target
				}
			} else {
				g, h := f.start(t)
				target = map[string]string{"grpc": g, "http": h}[tc.transport]
			}
			// Only a hanging riskgate needs the call's timeout to pass; an
			// answer (or a refusal) must arrive within it however loaded
			// the machine is, or its cause would read "timeout".
			timeout := time.Minute
			if tc.mode == "hang" {
				timeout = 100 * time.Millisecond
			}
			obs := &recorder{}
			c := newClient(t, client.Options{
				Target: target, Failover: tc.policy, Timeout: timeout, Observer: obs,
				Breaker: client.BreakerOptions{Failures: failures, OpenFor: time.Hour},
			})
			a := client.Attempt{UserID: "u", Username: "carol", IP: "81.2.69.160", Password: client.HashPassword("hunter2-but-longer")}
			// The circuit opens on the failures-th failed call, whatever
			// its tries.
			opened := failures
			for i := range opened + 10 {
				d, err := c.AfterPassword(context.Background(), a, client.PasswordOK)
				want := tc.cause
				if i >= opened {
					want = client.CauseCircuitOpen
				}
				var e *client.Error
				if !d.Failover || d.Cause != want || d.Action != tc.policy || d.DecisionID != "" || !errors.As(err, &e) || e.Cause != want {
					t.Fatalf("call %d: decision %+v, err %v; want a %v failover caused by %s", i, d, err, tc.policy, want)
				}
			}
			if c.Breaker() != client.BreakerOpen {
				t.Errorf("breaker %v after %d failures", c.Breaker(), failures)
			}
			switch got := f.calls.Load(); {
			case tc.mode == "refused":
			case tc.mode == "hang" && got > failures:
				// A send may time out before it reaches a hanging riskgate
				// (the connection is still being set up on a loaded
				// machine), so fewer may arrive; never more.
				t.Errorf("riskgate got %d requests; want at most %d, then none once the circuit was open", got, failures)
			case tc.mode != "hang" && got != int64(failures*tc.tries):
				t.Errorf("riskgate got %d requests; want %d, then none once the circuit was open", got, failures*tc.tries)
			}
			st := c.Stats()
			if st.Failovers[tc.cause] != uint64(opened) || st.Failovers[client.CauseCircuitOpen] != 10 || st.Decisions != 0 || st.BreakerOpened != 1 {
				t.Errorf("stats %+v", st)
			}
			if want := failures * (tc.tries - 1); st.Retries != uint64(want) {
				t.Errorf("retries %d, want %d", st.Retries, want)
			}
			sent := 0
			for i, call := range obs.calls() {
				if !call.Failover || i >= opened && call.Tries != 0 {
					t.Errorf("observed call %d: %+v", i, call)
				}
				sent += call.Tries
			}
			if sent != failures*tc.tries {
				t.Errorf("observer counted %d sends, want %d", sent, failures*tc.tries)
			}
			if body, _ := f.body.Load().(string); body != "" {
				if strings.Contains(body, "hunter2") || !strings.Contains(body, `"password_sha1":"`) {
					t.Errorf("request body carries the password or lacks its hash: %s", body)
				}
			}
		})
	}
}

// TestCallerGoneAway: a caller whose own context ends (cancelled, or a
// deadline that left riskgate less than CallerTimeoutFloor) gets the
// failover, and that says nothing about riskgate: the circuit stays closed.
func TestCallerGoneAway(t *testing.T) {
	f := &faulty{mode: "hang"}
	g, h := f.start(t)
	for _, target := range []string{g, h} {
		c := newClient(t, client.Options{Target: target, Failover: client.Deny, Breaker: client.BreakerOptions{Failures: 2}})
		for range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), client.CallerTimeoutFloor/2)
			d, err := c.BeforePassword(ctx, client.Attempt{IP: "81.2.69.160"})
			cancel()
			if !d.Failover || d.Cause != client.CauseCanceled || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: %+v, %v", target, d, err)
			}
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(30*time.Millisecond, cancel)
			d, err = c.BeforePassword(ctx, client.Attempt{IP: "81.2.69.160"})
			if !d.Failover || d.Cause != client.CauseCanceled || !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: %+v, %v", target, d, err)
			}
		}
		if c.Breaker() != client.BreakerClosed {
			t.Errorf("%s: the caller's deadline opened the circuit", target)
		}
	}
}

// TestReportFailover: the outcome of a failover decision is sent with the
// attempt, which riskgate accepts; a failover allow is never reported as a
// success; and an unreachable riskgate makes Report fail, not hang.
func TestReportFailover(t *testing.T) {
	down := newClient(t, client.Options{Target: refusedAddr(t), Failover: client.Allow, Timeout: time.Second})
	a := client.Attempt{UserID: "u-dave", Username: "dave", IP: "81.2.69.160", DeviceID: "d"}
	// BeforePassword's failover awaits nothing (AfterPassword's is
	// reported); a single scoring point before the password check does.
	if d, _ := down.BeforePassword(context.Background(), a); !d.Failover || d.AwaitsOutcome() {
		t.Fatalf("BeforePassword: %+v", d)
	}
	d, _ := down.Score(context.Background(), a, client.ResultUnknown)
	if !d.Failover || !d.AwaitsOutcome() {
		t.Fatalf("%+v", d)
	}
	if err := down.LoginSucceeded(context.Background(), d); err != nil {
		t.Errorf("a failover allow reported as succeeded: %v", err)
	}
	err := down.LoginFailed(context.Background(), d)
	var e *client.Error
	if !errors.As(err, &e) || e.Cause != client.CauseUnavailable {
		t.Fatalf("report to a dead riskgate: %v", err)
	}
	if st := down.Stats(); st.Retries != 3 || st.ReportFailures[client.CauseUnavailable] != 1 {
		// one retry was each score's, one the report's: a refused connection
		// delivered nothing, and riskgate applies an attempt's outcome once
		t.Errorf("stats %+v", st)
	}
	if err := down.Report(context.Background(), d, client.ConfirmedFraud); !errors.Is(err, client.ErrNoDecision) {
		t.Errorf("label on a failover: %v", err)
	}
	for _, tr := range transports {
		up := newClient(t, client.Options{Target: tr.target(shared), Tenant: "report-failover"})
		if err := up.LoginFailed(context.Background(), d); err != nil {
			t.Errorf("%s: riskgate refused a failover's outcome: %v", tr.name, err)
		}
		if err := up.StepUpPassed(context.Background(), d); err != nil {
			t.Errorf("%s: %v", tr.name, err)
		}
		if got := up.Stats().Reports; got != 2 {
			t.Errorf("%s: %d reports delivered", tr.name, got)
		}
	}
}

// TestKilled: riskgate dies by SIGKILL while logins are being scored, and
// comes back. Every login gets an answer: riskgate's, or the failover,
// marked; the circuit opens, then closes once riskgate is back.
func TestKilled(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			rg := clienttest.Start(t)
			c := newClient(t, client.Options{
				Target: tr.target(rg), Failover: client.StepUp, Timeout: 2 * time.Second,
				Breaker: client.BreakerOptions{Failures: 3, OpenFor: 100 * time.Millisecond},
			})
			var (
				mu       sync.Mutex
				real     int
				causes   = map[client.Cause]int{}
				problems []string
				stop     = make(chan struct{})
				wg       sync.WaitGroup
			)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						a := client.Attempt{UserID: "u", Username: "erin", IP: "81.2.69.160"}
						d, err := c.AfterPassword(context.Background(), a, client.PasswordBad)
						mu.Lock()
						switch {
						case !d.Failover && err == nil && d.DecisionID != "":
							real++
						case d.Failover && d.Action == client.StepUp && d.DecisionID == "" && err != nil:
							causes[d.Cause]++
						default:
							problems = append(problems, err.Error())
						}
						mu.Unlock()
						time.Sleep(time.Millisecond)
					}
				}()
			}
			waitUntil(t, "decisions before the kill", func() bool { mu.Lock(); defer mu.Unlock(); return real >= 40 })
			rg.Kill()
			waitUntil(t, "the circuit to open", func() bool { return c.Stats().BreakerOpened > 0 })
			mu.Lock()
			realBefore := real
			mu.Unlock()
			rg.Restart()
			waitUntil(t, "decisions after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return real >= realBefore+40 })
			close(stop)
			wg.Wait()
			for cause := range causes {
				if cause != client.CauseUnavailable && cause != client.CauseTimeout && cause != client.CauseCircuitOpen {
					t.Errorf("failover caused by %s", cause)
				}
			}
			t.Logf("real decisions %d, failovers %v", real, causes)
			if len(problems) > 0 || causes[client.CauseCircuitOpen] == 0 {
				t.Errorf("failovers %v; unexpected answers: %q", causes, problems)
			}
			if c.Breaker() != client.BreakerClosed {
				t.Errorf("breaker %v after riskgate came back", c.Breaker())
			}
		})
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReplicaHangs: of two replicas behind one name, the first freezes
// (SIGSTOP: its connections stay open, nothing answers). Logins keep
// getting riskgate's decisions from the other one, rather than every call
// going to the frozen replica until its deadline.
func TestReplicaHangs(t *testing.T) {
	first, second := clienttest.Start(t), clienttest.Start(t)
	r := manual.NewBuilderWithScheme("replicas")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: first.GRPC}, {Addr: second.GRPC}}})
	c := newClient(t, client.Options{
		Target: "replicas:///riskgate", Failover: client.Deny, Timeout: 500 * time.Millisecond,
		Breaker:     client.BreakerOptions{Disabled: true},
		DialOptions: []grpc.DialOption{grpc.WithResolvers(r)},
	})
	a := client.Attempt{UserID: "u", Username: "erin", IP: "81.2.69.160"}
	// Both replicas decide before the freeze: the connections are up.
	waitUntil(t, "a decision from each replica", func() bool {
		_, _ = c.BeforePassword(context.Background(), a)
		return decided(t, first) && decided(t, second)
	})
	first.Pause()
	defer first.Kill()
	answered := 0
	for range 10 {
		if d, _ := c.BeforePassword(context.Background(), a); !d.Failover {
			answered++
		}
	}
	if answered == 0 {
		t.Errorf("no decision in 10 calls with one of two replicas frozen: %+v", c.Stats())
	}
	// Then the frozen replica's unanswered keepalive ping takes it out of
	// the rotation: every call is decided again.
	run := 0
	waitUntil(t, "10 decisions in a row", func() bool {
		if d, _ := c.BeforePassword(context.Background(), a); d.Failover {
			run = 0
		} else {
			run++
		}
		return run >= 10
	})
}

// decided reports whether the server has made a decision, from its metrics.
func decided(t *testing.T, s *clienttest.Server) bool {
	t.Helper()
	resp, err := http.Get(s.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(body), `riskgate_decisions_total{action="allow",tenant="default"} `) &&
		!strings.Contains(string(body), `riskgate_decisions_total{action="allow",tenant="default"} 0`+"\n")
}

// TestTooLarge: a request riskgate refuses for its size (gRPC
// RESOURCE_EXHAUSTED "request larger than 65536 bytes", HTTP 413) is the
// caller's to fix: rejected, on both transports, and never counted against
// riskgate's health, where it opened the circuit for every login. A
// RESOURCE_EXHAUSTED that is not about size is still an overload.
func TestTooLarge(t *testing.T) {
	huge := map[string]string{}
	for i := range 40 {
		huge[fmt.Sprint("k", i)] = strings.Repeat("v", 2048)
	}
	a := client.Attempt{IP: "81.2.69.160", Attributes: huge}
	for _, tr := range transports {
		c := newClient(t, client.Options{Target: tr.target(shared), Failover: client.Allow, Breaker: client.BreakerOptions{Failures: 2}})
		for range 5 {
			d, err := c.AfterPassword(context.Background(), a, client.PasswordBad)
			var e *client.Error
			if !d.Failover || d.Cause != client.CauseRejected || !errors.As(err, &e) || e.Cause != client.CauseRejected {
				t.Fatalf("%s: %+v, %v", tr.name, d, err)
			}
		}
		if c.Breaker() != client.BreakerClosed {
			t.Errorf("%s: requests too large opened the circuit", tr.name)
		}
	}
	// An overload still counts.
	f := &faulty{mode: "overloaded"}
	g, _ := f.start(t)
	c := newClient(t, client.Options{Target: g, Failover: client.Allow, Breaker: client.BreakerOptions{Failures: 2}})
	for range 2 {
		if d, _ := c.BeforePassword(context.Background(), client.Attempt{IP: "81.2.69.160"}); d.Cause != client.CauseOverloaded {
			t.Fatalf("%+v", d)
		}
	}
	if c.Breaker() != client.BreakerOpen {
		t.Errorf("overload: breaker %v", c.Breaker())
	}
}

// TestCallerDeadlineOutage: riskgate hangs and every caller's deadline
// (30ms) is shorter than Options.Timeout. Those calls were all "canceled":
// the circuit stayed closed and nothing was logged through an outage. A
// caller deadline that left riskgate CallerTimeoutFloor or more is a
// timeout: counted, and the circuit opens.
func TestCallerDeadlineOutage(t *testing.T) {
	f := &faulty{mode: "hang"}
	g, h := f.start(t)
	for _, target := range []string{g, h} {
		c := newClient(t, client.Options{Target: target, Failover: client.Deny, Timeout: 50 * time.Millisecond, Breaker: client.BreakerOptions{Failures: 2}})
		for range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			d, err := c.BeforePassword(ctx, client.Attempt{IP: "81.2.69.160"})
			cancel()
			if !d.Failover || d.Cause != client.CauseTimeout || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: %+v, %v", target, d, err)
			}
		}
		if c.Breaker() != client.BreakerOpen {
			t.Errorf("%s: an outage hidden by the callers' deadlines left the circuit %v", target, c.Breaker())
		}
		if st := c.Stats(); st.Failovers[client.CauseTimeout] != 2 {
			t.Errorf("%s: %+v", target, st)
		}
	}
}

// TestReportRetryNotFound: over HTTP, a report whose retry riskgate
// answers NOT_FOUND ("unknown decision") succeeds only when the first try
// may have landed (it was sent, then the connection broke); when the first
// try never left (the connection could not be made), the NOT_FOUND is the
// caller's and is returned, where it was swallowed.
func TestReportRetryNotFound(t *testing.T) {
	var requests atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if requests.Add(1) == 1 && r.Header.Get("X-Test-Drop-First") != "" {
			// Read, then the connection breaks before the answer.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":"not_found","message":"unknown, expired or already reported decision","field":"decision_id"}}`)
	}))
	t.Cleanup(hs.Close)
	for _, tc := range []struct {
		name      string
		failDial  bool // the first dial fails: nothing sent
		dropFirst bool // the first request is read, then the connection closed
		wantNil   bool
	}{
		{name: "not sent", failDial: true},
		{name: "sent, connection broke", dropFirst: true, wantNil: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			var dials atomic.Int64
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) == 1 && tc.failDial {
					return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNRESET}
				}
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
			hc := &http.Client{Transport: headerTransport{tr, tc.dropFirst}}
			c := newClient(t, client.Options{Target: hs.URL, HTTPClient: hc})
			err := c.ReportByID(context.Background(), "", "d-unknown", client.LoginSucceeded)
			if got := requests.Load(); got < 1 {
				t.Fatalf("%d requests", got)
			}
			var e *client.Error
			switch {
			case tc.wantNil && err != nil:
				t.Errorf("the first try may have landed: %v", err)
			case !tc.wantNil && (!errors.As(err, &e) || e.Code != "NOT_FOUND" || e.Cause != client.CauseRejected):
				t.Errorf("the first try never left: got %v, want the NOT_FOUND", err)
			}
			if st := c.Stats(); st.Retries != 1 {
				t.Errorf("retries %d", st.Retries)
			}
		})
	}
}

// headerTransport marks requests for the test server.
type headerTransport struct {
	http.RoundTripper
	dropFirst bool
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.dropFirst {
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-Drop-First", "1")
	}
	return h.RoundTripper.RoundTrip(r)
}

// TestCallsCounted: every call is in Stats and told to the Observer,
// AfterPassword with a result it does not take too; a call whose context
// had already ended sends no request.
func TestCallsCounted(t *testing.T) {
	f := &faulty{mode: "internal"}
	g, h := f.start(t)
	for _, target := range []string{g, h} {
		obs := &recorder{}
		c := newClient(t, client.Options{Target: target, Failover: client.Deny, Observer: obs})
		d, err := c.AfterPassword(context.Background(), client.Attempt{IP: "81.2.69.160"}, client.ResultUnknown)
		if !d.Failover || err == nil {
			t.Fatalf("%+v, %v", d, err)
		}
		if st := c.Stats(); st.Failovers[client.CauseRejected] != 1 {
			t.Errorf("%s: AfterPassword(ResultUnknown) not counted: %+v", target, st)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		before := f.calls.Load()
		d, _ = c.Score(ctx, client.Attempt{IP: "81.2.69.160"}, client.ResultUnknown)
		if err := c.LoginFailed(ctx, d); err == nil {
			t.Errorf("%s: a report with an ended context succeeded", target)
		}
		if d.Cause != client.CauseCanceled || f.calls.Load() != before {
			t.Errorf("%s: %+v, %d requests reached the server", target, d, f.calls.Load()-before)
		}
		calls := obs.calls()
		if len(calls) != 3 {
			t.Fatalf("%s: observer saw %d calls", target, len(calls))
		}
		for _, call := range calls {
			if call.Tries != 0 {
				t.Errorf("%s: %+v: a request counted, none sent", target, call)
			}
		}
	}
}

// TestReportRefusedAttempt: LoginFailed for a failover of an attempt the
// client refused itself (a bad IP) sends nothing, and says so, where it
// returned nil as if the failure had been counted.
func TestReportRefusedAttempt(t *testing.T) {
	f := &faulty{mode: "internal"}
	g, _ := f.start(t)
	c := newClient(t, client.Options{Target: g, Failover: client.Allow})
	d, err := c.AfterPassword(context.Background(), client.Attempt{IP: "not-an-ip"}, client.PasswordBad)
	if !d.Failover || err == nil {
		t.Fatalf("%+v, %v", d, err)
	}
	if err := c.LoginFailed(context.Background(), d); !errors.Is(err, client.ErrNotSendable) {
		t.Errorf("LoginFailed: %v, want ErrNotSendable", err)
	}
	if err := c.LoginSucceeded(context.Background(), d); err != nil {
		t.Errorf("LoginSucceeded of a failover sends nothing, as documented: %v", err)
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestCanceledCode: riskgate's "cancelled" answer has one Code on both
// transports, the gRPC specification's CANCELLED.
func TestCanceledCode(t *testing.T) {
	f := &faulty{mode: "canceled"}
	g, h := f.start(t)
	for _, target := range []string{g, h} {
		c := newClient(t, client.Options{Target: target})
		_, err := c.BeforePassword(context.Background(), client.Attempt{IP: "81.2.69.160"})
		var e *client.Error
		if !errors.As(err, &e) || e.Code != "CANCELLED" || e.Cause != client.CauseCanceled {
			t.Errorf("%s: %v (code %q)", target, err, e.Code)
		}
	}
}
