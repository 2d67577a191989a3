// Command load drives a running riskgate with Score calls, over gRPC or
// HTTP, at a fixed concurrency (closed loop: each worker sends its next
// call when the last returns) or at a fixed rate (open loop: calls are
// scheduled on a clock and latency is measured from the scheduled time, so
// a stalled server is not hidden by the generator waiting for it), and
// reports throughput and latency percentiles from an HdrHistogram.
//
// The attempts are ordinary logins of a population of users, each from
// its own address, device and city, with a few failed passwords and
// logins from elsewhere mixed in, so the engine reads real profiles and
// windows. benchmarks/README.md records results and the commands.
//
//	go run ./benchmarks/load -target grpc -addr 127.0.0.1:9090 -c 32 -duration 10s
//	go run ./benchmarks/load -target http -addr 127.0.0.1:8080 -rate 15000 -c 64
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

type config struct {
	target      string
	addr        string
	concurrency int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	conns       int
	users       int
	token       string
	label       string
	omitSignals bool
	attemptIDs  bool
	decode      bool
	serverPID   int
	redisPID    int
	json        bool
}

func main() {
	var c config
	flag.StringVar(&c.target, "target", "grpc", "grpc or http")
	flag.StringVar(&c.addr, "addr", "", "server address (default 127.0.0.1:9090 for grpc, 127.0.0.1:8080 for http)")
	flag.IntVar(&c.concurrency, "c", 32, "concurrent workers (calls in flight)")
	flag.Float64Var(&c.rate, "rate", 0, "target calls per second (0: as fast as the workers go)")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured run length")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured run before, so baselines exist and the server is warm")
	flag.IntVar(&c.conns, "conns", 2, "gRPC connections (HTTP uses one per worker)")
	flag.IntVar(&c.users, "users", 10000, "users in the population")
	flag.StringVar(&c.token, "token", os.Getenv("RISKGATE_SCORING_TOKEN"), "scoring bearer token, if the server needs one")
	flag.StringVar(&c.label, "label", "", "a label for the result line")
	flag.BoolVar(&c.omitSignals, "omit-signals", false, "ask for decisions without their signals")
	flag.BoolVar(&c.attemptIDs, "attempt-ids", false, "send a new attempt_id with every call, as riskgate's Go client does (the store then keeps each decision for retries)")
	flag.BoolVar(&c.decode, "decode", true, "decode the answers (as a real client does); false reads and drops them, to keep the generator's CPU for the server")
	flag.IntVar(&c.serverPID, "server-pid", 0, "the server's process id, to report its CPU per call (Linux)")
	flag.IntVar(&c.redisPID, "redis-pid", 0, "redis-server's process id, to report its CPU per call (Linux)")
	flag.BoolVar(&c.json, "json", false, "print the result as one JSON object (for benchmarks/load/compare)")
	freePorts := flag.Int("free-ports", 0, "print this many TCP ports free on 127.0.0.1 now, one a line, and exit (for scripts)")
	flag.Parse()
	if *freePorts > 0 {
		if err := printFreePorts(os.Stdout, *freePorts); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		return
	}
	if c.addr == "" {
		c.addr = map[string]string{"grpc": "127.0.0.1:9090", "http": "127.0.0.1:8080"}[c.target]
	}
	res, err := run(context.Background(), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if c.json {
		if err := json.NewEncoder(os.Stdout).Encode(res.summary()); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		return
	}
	res.print(os.Stdout, c)
}

// printFreePorts asks the kernel for n free ports, holding each until all
// are found so that they differ.
func printFreePorts(w io.Writer, n int) error {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		fmt.Fprintln(w, l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// Summary is a run's result in machine-readable form: -json prints it.
type Summary struct {
	Calls          int64   `json:"calls"`
	Errors         int64   `json:"errors"`
	FirstError     string  `json:"first_error,omitempty"`
	CallsPerSec    float64 `json:"calls_per_sec"`
	P50us          int64   `json:"p50_us"`
	P99us          int64   `json:"p99_us"`
	P999us         int64   `json:"p999_us"`
	ServerUsPer    float64 `json:"server_us_per_call"`
	GeneratorUsPer float64 `json:"generator_us_per_call"`
	RedisUsPer     float64 `json:"redis_us_per_call"`
}

func (r *result) summary() Summary {
	n := r.hist.TotalCount()
	s := Summary{Calls: n, Errors: r.errors, CallsPerSec: float64(n) / r.elapsed.Seconds(),
		P50us: r.hist.ValueAtQuantile(50), P99us: r.hist.ValueAtQuantile(99), P999us: r.hist.ValueAtQuantile(99.9)}
	if r.firstErr != nil {
		s.FirstError = r.firstErr.Error()
	}
	if n > 0 {
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
		s.ServerUsPer, s.GeneratorUsPer, s.RedisUsPer = per(r.server), per(r.cpu), per(r.redis)
	}
	return s
}

// caller makes one Score call with attempt i.
type caller func(ctx context.Context, i int) error

func run(ctx context.Context, c config) (*result, error) {
	pop := newPopulation(c.users)
	call, closeFn, err := newCaller(c, pop)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	if err := call(ctx, 0); err != nil {
		return nil, fmt.Errorf("first call: %w", err)
	}
	if c.warmup > 0 {
		phase(ctx, c, call, pop, c.warmup, false)
	}
	return phase(ctx, c, call, pop, c.duration, true), nil
}

type result struct {
	hist     *hdrhistogram.Histogram
	errors   int64
	firstErr error
	elapsed  time.Duration
	cpu      time.Duration // the generator's own CPU time
	server   time.Duration // the server's CPU time, when its pid is known
	redis    time.Duration // redis-server's
	wait     time.Duration // time the server's threads were runnable but not running
}

// phase runs the workers for d and merges their histograms.
func phase(ctx context.Context, c config, call caller, pop *population, d time.Duration, measure bool) *result {
	var (
		next     atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	hists := make([]*hdrhistogram.Histogram, c.concurrency)
	cpu0, srv0, rds0, wait0 := cpuTime(), procCPU(c.serverPID), procCPU(c.redisPID), runqueueWait(c.serverPID)
	start := time.Now()
	end := start.Add(d)
	// Open loop: a pacer releases each call at its due time; a worker
	// takes it when free and the latency counts from the due time, so
	// time spent waiting for a worker (the server being slow) is counted.
	// One pacer waking every call interval, within 100µs-1ms, costs far
	// less than a timer per call; the latency its granularity adds is
	// counted, which errs on the pessimistic side.
	var due chan time.Time
	if c.rate > 0 {
		due = make(chan time.Time, 1<<16)
		go func() {
			defer close(due)
			interval := time.Duration(float64(time.Second) / c.rate)
			t := time.NewTicker(min(max(interval, 100*time.Microsecond), time.Millisecond))
			defer t.Stop()
			for sent := int64(0); ; {
				now := <-t.C
				if now.After(end) {
					return
				}
				for ; ; sent++ {
					at := start.Add(time.Duration(sent) * interval)
					if at.After(now) {
						break
					}
					due <- at
				}
			}
		}()
	}
	for w := range c.concurrency {
		hists[w] = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hists[w]
			for {
				var begin time.Time
				if due != nil {
					at, ok := <-due
					if !ok {
						return
					}
					begin = at
				} else if begin = time.Now(); begin.After(end) {
					return
				}
				n := next.Add(1) - 1
				err := call(ctx, int(n%int64(len(pop.attempts))))
				took := time.Since(begin)
				if err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(err)
					}
					continue
				}
				if measure {
					_ = h.RecordValue(max(took.Microseconds(), 1))
				}
			}
		}()
	}
	wg.Wait()
	r := &result{hist: hists[0], errors: errs.Load(), elapsed: time.Since(start), cpu: cpuTime() - cpu0, server: procCPU(c.serverPID) - srv0, redis: procCPU(c.redisPID) - rds0, wait: runqueueWait(c.serverPID) - wait0}
	for _, h := range hists[1:] {
		r.hist.Merge(h)
	}
	if e, ok := firstErr.Load().(error); ok {
		r.firstErr = e
	}
	return r
}

func (r *result) print(w io.Writer, c config) {
	mode := fmt.Sprintf("closed loop, %d in flight", c.concurrency)
	if c.rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f/s, up to %d in flight", c.rate, c.concurrency)
	}
	if c.omitSignals {
		mode += ", without signals"
	}
	n := r.hist.TotalCount()
	us := func(q float64) string {
		return (time.Duration(r.hist.ValueAtQuantile(q)) * time.Microsecond).String()
	}
	fmt.Fprintf(w, "%s%s Score, %s, %s: %d calls, %d errors, %.0f calls/s; latency p50 %s p90 %s p99 %s p99.9 %s max %s; generator CPU %.2f cores\n",
		prefix(c.label), strings.ToUpper(c.target), mode, r.elapsed.Round(time.Millisecond), n, r.errors, float64(n)/r.elapsed.Seconds(),
		us(50), us(90), us(99), us(99.9), (time.Duration(r.hist.Max()) * time.Microsecond).String(), r.cpu.Seconds()/r.elapsed.Seconds())
	if r.server > 0 && n > 0 {
		fmt.Fprintf(w, "  server CPU %.2f cores, %.1f µs per call; generator %.1f µs per call; server threads waited for a CPU %.0f ms per second\n",
			r.server.Seconds()/r.elapsed.Seconds(), float64(r.server.Microseconds())/float64(n), float64(r.cpu.Microseconds())/float64(n),
			float64(r.wait.Milliseconds())/r.elapsed.Seconds())
	}
	if r.redis > 0 && n > 0 {
		fmt.Fprintf(w, "  redis-server CPU %.2f cores, %.1f µs per call\n", r.redis.Seconds()/r.elapsed.Seconds(), float64(r.redis.Microseconds())/float64(n))
	}
	if r.firstErr != nil {
		fmt.Fprintf(w, "  first error: %v\n", r.firstErr)
	}
}

func prefix(label string) string {
	if label == "" {
		return ""
	}
	return "[" + label + "] "
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is a process's user and system CPU time from /proc; 0 when
// unknown.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 per second on
	// Linux).
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}

// runqueueWait sums, over a process's threads, the time they were ready to
// run but waited for a CPU (the second field of schedstat): on a shared
// machine, the part of the latency that is other processes' doing.
func runqueueWait(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var sum int64
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(data)); len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum)
}

// raw is a request encoded once, before the run.
type raw []byte

// lean is the gRPC codec of -decode=false: requests go out as encoded
// before the run and answers are taken off the wire (so flow control and
// the server's work are unchanged) without being decoded, to leave the CPU
// to the server.
type lean struct{}

func (lean) Marshal(v any) ([]byte, error) { return v.(*raw).bytes(), nil }
func (lean) Unmarshal([]byte, any) error   { return nil }
func (lean) Name() string                  { return "proto" }

func (r *raw) bytes() []byte { return *r }

func newCaller(c config, pop *population) (caller, func(), error) {
	switch c.target {
	case "grpc":
		conns := make([]pb.RiskServiceClient, c.conns)
		ccs := make([]*grpc.ClientConn, c.conns)
		var closers []func()
		for i := range conns {
			opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
			if !c.decode {
				opts = append(opts, grpc.WithDefaultCallOptions(grpc.ForceCodec(lean{})))
			}
			cc, err := grpc.NewClient(c.addr, opts...)
			if err != nil {
				return nil, nil, err
			}
			closers = append(closers, func() { cc.Close() })
			conns[i], ccs[i] = pb.NewRiskServiceClient(cc), cc
		}
		reqs := make([]*pb.ScoreRequest, len(pop.attempts))
		for i, a := range pop.attempts {
			reqs[i] = &pb.ScoreRequest{Attempt: a.pb(), OmitSignals: c.omitSignals}
		}
		base := context.Background()
		if c.token != "" {
			base = metadata.AppendToOutgoingContext(base, "authorization", "Bearer "+c.token)
		}
		call := func(_ context.Context, i int) error {
			_, err := conns[i%len(conns)].Score(base, reqs[i])
			return err
		}
		if c.attemptIDs {
			ids := newAttemptIDs()
			call = func(_ context.Context, i int) error {
				a := pop.attempts[i].pb()
				a.AttemptId = ids.next()
				_, err := conns[i%len(conns)].Score(base, &pb.ScoreRequest{Attempt: a, OmitSignals: c.omitSignals})
				return err
			}
		}
		if !c.decode && c.attemptIDs {
			return nil, nil, errors.New("-attempt-ids needs -decode: requests are encoded before the run without it")
		}
		if !c.decode {
			encoded := make([]raw, len(reqs))
			for i, r := range reqs {
				b, err := proto.Marshal(r)
				if err != nil {
					return nil, nil, err
				}
				encoded[i] = b
			}
			var discarded struct{}
			call = func(_ context.Context, i int) error {
				return ccs[i%len(ccs)].Invoke(base, pb.RiskService_Score_FullMethodName, &encoded[i], &discarded)
			}
		}
		return call, func() {
			for _, f := range closers {
				f()
			}
		}, nil
	case "http":
		tr := &http.Transport{
			MaxIdleConns: c.concurrency, MaxIdleConnsPerHost: c.concurrency, DisableCompression: true,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}
		client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		bodies := make([][]byte, len(pop.attempts))
		for i, a := range pop.attempts {
			bodies[i], _ = json.Marshal(a.json())
		}
		url := "http://" + c.addr + "/v1/score"
		if c.omitSignals {
			url += "?omit_signals=true"
		}
		var ids *attemptIDs
		if c.attemptIDs {
			ids = newAttemptIDs()
		}
		return func(ctx context.Context, i int) error {
			body := bodies[i]
			if ids != nil { // {"attempt_id":"…", and the rest of the object
				body = append(append(append([]byte(`{"attempt_id":"`), ids.next()...), `",`...), body[1:]...)
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return nil
		}, tr.CloseIdleConnections, nil
	}
	return nil, nil, errors.New("target: want grpc or http")
}

// attemptIDs makes attempt ids unique to this run: a prefix from the
// clock, so that runs against the same server do not retry each other's
// attempts, and a counter.
type attemptIDs struct {
	prefix string
	n      atomic.Uint64
}

func newAttemptIDs() *attemptIDs {
	return &attemptIDs{prefix: strconv.FormatInt(time.Now().UnixNano(), 36) + "-"}
}

func (a *attemptIDs) next() string { return a.prefix + strconv.FormatUint(a.n.Add(1), 36) }

// attempt is one generated login.
type attempt struct {
	user, username, ip, ua, device, result, country string
	lat, lon                                        float64
}

func (a *attempt) pb() *pb.Attempt {
	r := map[string]pb.Result{"password_ok": pb.Result_RESULT_PASSWORD_OK, "password_bad": pb.Result_RESULT_PASSWORD_BAD}[a.result]
	lat, lon := a.lat, a.lon
	return &pb.Attempt{
		Tenant: "bench", UserId: a.user, Username: a.username, Ip: a.ip, UserAgent: a.ua, DeviceId: a.device,
		Result: r, Geo: &pb.GeoHint{Country: a.country, Lat: &lat, Lon: &lon}, Channel: "web",
	}
}

func (a *attempt) json() map[string]any {
	return map[string]any{
		"tenant": "bench", "user_id": a.user, "username": a.username, "ip": a.ip, "user_agent": a.ua, "device_id": a.device,
		"result": a.result, "geo": map[string]any{"country": a.country, "lat": a.lat, "lon": a.lon}, "channel": "web",
	}
}

type population struct{ attempts []attempt }

var cities = []struct {
	country  string
	lat, lon float64
}{{"FR", 48.8566, 2.3522}, {"DE", 52.52, 13.405}, {"GB", 51.5074, -0.1278}, {"US", 40.7128, -74.006}, {"JP", 35.6762, 139.6503}, {"BR", -23.5505, -46.6333}}

var agents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
}

// newPopulation makes 4 attempts per user, shuffled: 94% of them the
// user's ordinary login, 3% a wrong password, 3% from another city.
func newPopulation(users int) *population {
	r := rand.New(rand.NewPCG(1, 2))
	p := &population{}
	for u := range users {
		home := cities[r.IntN(len(cities))]
		base := attempt{
			user: fmt.Sprintf("user-%d", u), username: fmt.Sprintf("user%d@example.com", u),
			ip: fmt.Sprintf("81.%d.%d.%d", u>>16&255, u>>8&255, u&255), ua: agents[u%len(agents)],
			device: fmt.Sprintf("dev-%d", u), result: "password_ok", country: home.country, lat: home.lat, lon: home.lon,
		}
		for range 4 {
			a := base
			switch x := r.IntN(100); {
			case x < 3:
				a.result = "password_bad"
			case x < 6:
				c := cities[r.IntN(len(cities))]
				a.country, a.lat, a.lon = c.country, c.lat, c.lon
				a.ip = fmt.Sprintf("203.0.%d.%d", r.IntN(256), r.IntN(256))
			}
			p.attempts = append(p.attempts, a)
		}
	}
	r.Shuffle(len(p.attempts), func(i, j int) { p.attempts[i], p.attempts[j] = p.attempts[j], p.attempts[i] })
	return p
}
