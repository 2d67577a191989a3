// Command compare measures riskgate against the floor (benchmarks/floor:
// an empty-handler server speaking the same API) on this machine, and
// prints riskgate's figures as ratios of the floor's: the table of issue 15
// that benchmarks/README.md records. The two servers run alternately, each
// on ports asked of the kernel, for several rounds, driven by the project's
// own generator (benchmarks/load) in a process of its own; CPU times come
// from /proc. Ratios of runs made minutes apart on the same machine cancel
// most of what a shared machine's load does to absolute figures.
//
//	go run ./benchmarks/load/compare                      # 3 rounds, 10 s runs
//	go run ./benchmarks/load/compare -rounds 1 -duration 3s -redis=false
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/riskgate/riskgate/internal/freeport"
	"github.com/riskgate/riskgate/internal/pretouch"
)

type config struct {
	rounds   int
	duration time.Duration
	warmup   time.Duration
	conc     int
	redis    bool
	starts   int
	dir      string
}

func main() {
	var c config
	flag.IntVar(&c.rounds, "rounds", 3, "rounds; each runs the floor, then riskgate")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured length of each run")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured run before each")
	flag.IntVar(&c.conc, "c", 32, "calls in flight in closed-loop runs")
	flag.BoolVar(&c.redis, "redis", true, "also compare on Redis (needs redis-server)")
	flag.IntVar(&c.starts, "starts", 41, "starts of each server per round, alternating, for the median start to /readyz")
	flag.Parse()
	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// summary is benchmarks/load's -json output.
type summary struct {
	Calls       int64   `json:"calls"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"first_error"`
	CallsPerSec float64 `json:"calls_per_sec"`
	P99us       int64   `json:"p99_us"`
	ServerUsPer float64 `json:"server_us_per_call"`
	GenUsPer    float64 `json:"generator_us_per_call"`
	RedisUsPer  float64 `json:"redis_us_per_call"`
}

// measures are one server's figures in one round, by row of the table.
type measures map[string]float64

// rows of the table: name, unit, whether more is better, the goal for
// riskgate/floor.
var rows = []struct {
	name, short, unit string
	higher            bool
	goal              string
}{
	{"gRPC Score, closed loop", "grpc", "/s", true, "≥ 0.85"},
	{"gRPC server CPU per call", "grpc-cpu", "µs", false, "≤ 1.3×"},
	// Not a goal: what the generator, on the same cores, spends on a call,
	// most of it decoding the answer. riskgate's carries its signals and
	// the floor's does not, and the closed loops' rates share the cores
	// between server and generator (benchmarks/README.md).
	{"gRPC generator CPU per call", "grpc-gen", "µs", false, "— (the client's)"},
	// Not goals: the same closed loop with a new attempt_id on every
	// call, as riskgate's Go client sends. riskgate then keeps each
	// decision for retries in the memory store's attempts (and in the
	// node's retry cache, before 2026-12-06's eleventh VM); the floor
	// ignores the field.
	{"gRPC Score with attempt ids, closed loop", "ids", "/s", true, "— (as the Go client calls)"},
	{"gRPC server CPU per call, attempt ids", "ids-cpu", "µs", false, "— (as the Go client calls)"},
	{"gRPC p99 at half the floor's max", "grpc-p99", "ms", false, "≤ 1.5×"},
	// Not goals: what the p99 row's open loop costs. A call in an open
	// loop costs the server about twice what it does in a closed one (a
	// wake-up per call, no batching), so "half the floor's max" keeps the
	// two cores busy most of the time even for the floor, and the tail
	// grows much faster than the CPU per call (benchmarks/README.md,
	// "Morning of 2026-12-05").
	{"gRPC server CPU per call, p99 run", "p99-cpu", "µs", false, "— (the p99 row's cost)"},
	{"machine CPU busy, p99 run", "p99-busy", "%", false, "— (the p99 row's load)"},
	{"HTTP/JSON Score, closed loop", "http", "/s", true, "≥ 0.85"},
	{"HTTP server CPU per call", "http-cpu", "µs", false, "≤ 1.3×"},
	{"Redis store, gRPC", "redis", "/s", true, "≥ 0.85"},
	{"redis-server CPU per Score", "redis-cpu", "µs", false, "≤ 1.25×"},
	// Not goals: the Redis store's closed loop again with a new
	// attempt_id on every call, as the Go client sends: riskgate then
	// remembers each attempt in Redis and indexes it under its user (for
	// Forget), and keeps its decision there; the floor's FCALL is the
	// same whatever the field.
	{"Redis store with attempt ids, gRPC", "redis-ids", "/s", true, "— (as the Go client calls)"},
	{"redis-server CPU per Score, attempt ids", "redis-ids-cpu", "µs", false, "— (as the Go client calls)"},
	{"start to /readyz", "ready", "ms", false, "≤ 1.5×"},
}

func run(ctx context.Context, c config, out io.Writer) error {
	dir, err := os.MkdirTemp("", "riskgate-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c.dir = dir
	for _, b := range []struct{ name, pkg string }{{"riskgate", "./cmd/riskgate"}, {"floor", "./benchmarks/floor"}, {"load", "./benchmarks/load"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, b.name), b.pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", b.pkg, err)
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "# %s, %d rounds of %s runs (%s warm-up), %d in flight; load average at start %s\n",
		time.Now().UTC().Format(time.RFC3339), c.rounds, c.duration, c.warmup, c.conc, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(out, "# %s\n", pretouchLine(pretouch.Result()))
	var rg, fl []measures
	for r := range c.rounds {
		f, g, err := round(ctx, c)
		if err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
		fl, rg = append(fl, f), append(rg, g)
		fmt.Fprintf(out, "# round %d: floor    %v\n#          riskgate %v\n", r+1, compact(f), compact(g))
	}
	load, _ = os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "# load average at end %s\n\n", strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintln(out, "| measure | riskgate | floor | ratio (median of rounds) | ratio per round | goal |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | --- | --- |")
	for _, row := range rows {
		var ratios []float64
		var rv, fv []float64
		for i := range rg {
			a, okA := rg[i][row.name]
			b, okB := fl[i][row.name]
			if !okA || !okB || b == 0 {
				continue
			}
			rv, fv = append(rv, a), append(fv, b)
			ratios = append(ratios, a/b)
		}
		if len(ratios) == 0 {
			continue
		}
		per := make([]string, len(ratios))
		for i, x := range ratios {
			per[i] = fmt.Sprintf("%.2f", x)
		}
		suffix := ""
		if !row.higher {
			suffix = "×"
		}
		fmt.Fprintf(out, "| %s | %s | %s | %.2f%s | %s | %s |\n", row.name, format(median(rv), row.unit), format(median(fv), row.unit),
			median(ratios), suffix, strings.Join(per, ", "), row.goal)
	}
	return nil
}

func compact(m measures) string {
	var parts []string
	for _, row := range rows {
		if v, ok := m[row.name]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", row.short, format(v, row.unit)))
		}
	}
	return strings.Join(parts, " ")
}

func format(v float64, unit string) string {
	switch unit {
	case "/s":
		return fmt.Sprintf("%.0f/s", v)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "%":
		return fmt.Sprintf("%.0f%%", v)
	}
	return fmt.Sprintf("%.1f µs", v)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// round measures the floor, then riskgate, on the memory store and (with
// -redis) on a fresh private redis-server.
func round(ctx context.Context, c config) (floor, rg measures, err error) {
	floor, rg = measures{}, measures{}
	if err := memoryRuns(ctx, c, "floor", floor, 0); err != nil {
		return nil, nil, err
	}
	half := floor["gRPC Score, closed loop"] / 2
	if err := memoryRuns(ctx, c, "riskgate", rg, half); err != nil {
		return nil, nil, err
	}
	if err := openLoop(ctx, c, "floor", floor, half); err != nil {
		return nil, nil, err
	}
	if err := startRuns(ctx, c, floor, rg); err != nil {
		return nil, nil, err
	}
	if c.redis {
		for _, m := range []struct {
			server string
			into   measures
		}{{"floor", floor}, {"riskgate", rg}} {
			if err := redisRun(ctx, c, m.server, m.into); err != nil {
				return nil, nil, err
			}
		}
	}
	return floor, rg, nil
}

// memoryRuns starts server, times it to /readyz, and runs the closed
// loops (and, when rate > 0, the open loop) against it.
func memoryRuns(ctx context.Context, c config, server string, m measures, rate float64) error {
	s, err := start(ctx, c, server, "")
	if err != nil {
		return err
	}
	defer s.stop()
	if c.starts == 0 {
		// Otherwise startRuns measures it, c.starts times over.
		m["start to /readyz"] = float64(s.ready.Microseconds()) / 1000
	}
	g, err := s.load(ctx, c, "-target", "grpc", "-addr", s.grpc, "-c", strconv.Itoa(c.conc))
	if err != nil {
		return err
	}
	m["gRPC Score, closed loop"], m["gRPC server CPU per call"] = g.CallsPerSec, g.ServerUsPer
	m["gRPC generator CPU per call"] = g.GenUsPer
	h, err := s.load(ctx, c, "-target", "http", "-addr", s.http, "-c", strconv.Itoa(c.conc))
	if err != nil {
		return err
	}
	m["HTTP/JSON Score, closed loop"], m["HTTP server CPU per call"] = h.CallsPerSec, h.ServerUsPer
	if rate > 0 {
		if err := p99Run(ctx, c, s, m, rate); err != nil {
			return err
		}
	}
	// Last: the decisions it keeps (the retry cache, the store's attempt
	// records) would weigh on the runs after it, which the rows recorded
	// before it existed did not carry.
	ids, err := s.load(ctx, c, "-target", "grpc", "-addr", s.grpc, "-c", strconv.Itoa(c.conc), "-attempt-ids")
	if err != nil {
		return err
	}
	m["gRPC Score with attempt ids, closed loop"], m["gRPC server CPU per call, attempt ids"] = ids.CallsPerSec, ids.ServerUsPer
	return nil
}

// p99Run runs the open loop at rate against s: its p99, the server's CPU
// per call, and how busy the machine's CPUs were meanwhile.
func p99Run(ctx context.Context, c config, s *server, m measures, rate float64) error {
	before, err := cpuStat()
	if err != nil {
		return err
	}
	o, err := s.load(ctx, c, "-target", "grpc", "-addr", s.grpc, "-c", "64", "-rate", strconv.Itoa(int(rate)))
	if err != nil {
		return err
	}
	after, err := cpuStat()
	if err != nil {
		return err
	}
	m["gRPC p99 at half the floor's max"] = float64(o.P99us) / 1000
	m["gRPC server CPU per call, p99 run"] = o.ServerUsPer
	// The warm-up is inside the interval too: the same load, at the
	// same rate.
	m["machine CPU busy, p99 run"] = after.busySince(before)
	return nil
}

// startRuns starts and stops the floor and riskgate alternately c.starts
// times each and records the median time to /readyz: one start is a few
// tens of milliseconds, which a shared machine's noise moves by a third.
func startRuns(ctx context.Context, c config, floor, rg measures) error {
	var times [2][]float64
	for range c.starts {
		for i, name := range []string{"floor", "riskgate"} {
			s, err := start(ctx, c, name, "")
			if err != nil {
				return err
			}
			s.stop()
			times[i] = append(times[i], float64(s.ready.Microseconds())/1000)
		}
	}
	if c.starts > 0 {
		floor["start to /readyz"], rg["start to /readyz"] = median(times[0]), median(times[1])
	}
	return nil
}

func openLoop(ctx context.Context, c config, server string, m measures, rate float64) error {
	s, err := start(ctx, c, server, "")
	if err != nil {
		return err
	}
	defer s.stop()
	return p99Run(ctx, c, s, m, rate)
}

func redisRun(ctx context.Context, c config, server string, m measures) error {
	rdb, addr, err := startRedis(ctx, c)
	if err != nil {
		return err
	}
	defer func() { _ = rdb.cmd.Process.Kill(); <-rdb.exited }()
	s, err := start(ctx, c, server, "redis://"+addr+"/0")
	if err != nil {
		return err
	}
	defer s.stop()
	g, err := s.load(ctx, c, "-target", "grpc", "-addr", s.grpc, "-c", strconv.Itoa(c.conc), "-redis-pid", strconv.Itoa(rdb.cmd.Process.Pid))
	if err != nil {
		return err
	}
	m["Redis store, gRPC"], m["redis-server CPU per Score"] = g.CallsPerSec, g.RedisUsPer
	// Last, as in memoryRuns: the attempts it keeps would weigh on a run
	// after it.
	ids, err := s.load(ctx, c, "-target", "grpc", "-addr", s.grpc, "-c", strconv.Itoa(c.conc), "-redis-pid", strconv.Itoa(rdb.cmd.Process.Pid), "-attempt-ids")
	if err != nil {
		return err
	}
	m["Redis store with attempt ids, gRPC"], m["redis-server CPU per Score, attempt ids"] = ids.CallsPerSec, ids.RedisUsPer
	return nil
}

// startRedis runs redis-server on a free port, its files in c.dir, and
// returns it and its address once it accepts connections; the caller
// kills it. freeport starts it again on another port when its port was
// taken before it bound it.
func startRedis(ctx context.Context, c config) (*server, string, error) {
	var addr string
	rdb, err := freeport.Start(freeport.Options{}, func(ports []netip.AddrPort) (*server, error) {
		addr = ports[0].String()
		rdb := &server{log: &bytes.Buffer{}, exited: make(chan struct{})}
		rdb.cmd = exec.CommandContext(ctx, "redis-server", "--port", strconv.Itoa(int(ports[0].Port())), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", c.dir)
		rdb.cmd.Stdout, rdb.cmd.Stderr = rdb.log, rdb.log
		if err := rdb.cmd.Start(); err != nil {
			return nil, fmt.Errorf("redis-server: %w", err)
		}
		go func() { _ = rdb.cmd.Wait(); close(rdb.exited) }()
		for i := 0; ; i++ {
			conn, err := net.Dial("tcp", addr)
			if err == nil {
				conn.Close()
				return rdb, nil
			}
			select {
			case <-rdb.exited:
				// The log is complete once the process has been waited for.
				return nil, freeport.Taken(fmt.Errorf("redis-server exited at start: %s", rdb.log), rdb.log.String())
			default:
			}
			if i > 500 {
				_ = rdb.cmd.Process.Kill()
				<-rdb.exited
				return nil, fmt.Errorf("redis-server did not start: %w", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return rdb, addr, err
}

type server struct {
	cmd        *exec.Cmd
	grpc, http string
	ready      time.Duration
	log        *bytes.Buffer
	exited     chan struct{} // closed once cmd has been waited for
}

// start runs riskgate serve or the floor on free ports and waits for
// /readyz, timing it from the exec. A port can be taken by another process
// between the kernel's answer and the server's bind: freeport starts it
// again on others.
func start(ctx context.Context, c config, name, redisURL string) (*server, error) {
	return freeport.Start(freeport.Options{Ports: 2}, func(ports []netip.AddrPort) (*server, error) {
		return startOn(ctx, c, name, redisURL, ports[0].String(), ports[1].String())
	})
}

func startOn(ctx context.Context, c config, name, redisURL, grpcAddr, httpAddr string) (*server, error) {
	s := &server{grpc: grpcAddr, http: httpAddr, log: &bytes.Buffer{}, exited: make(chan struct{})}
	var args []string
	if name == "floor" {
		args = []string{"-grpc-addr", s.grpc, "-http-addr", s.http}
		if redisURL != "" {
			args = append(args, "-redis", redisURL)
		}
	} else {
		store := "memory"
		if redisURL != "" {
			store = redisURL
		}
		args = []string{"serve", "--grpc-addr", s.grpc, "--http-addr", s.http, "--store", store, "--log-level", "warn", "--memory-max-users", "2000000"}
	}
	s.cmd = exec.CommandContext(ctx, filepath.Join(c.dir, name), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.Env = append(os.Environ(), "RISKGATE_HMAC_SECRET=compare-benchmark-secret-0123456789")
	client := &http.Client{Timeout: time.Second}
	begin := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	for {
		resp, err := client.Get("http://" + s.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				s.ready = time.Since(begin)
				return s, nil
			}
		}
		select {
		case <-s.exited:
			// The log is complete once the process has been waited for.
			return nil, freeport.Taken(fmt.Errorf("%s exited before it was ready: %s", name, s.log), s.log.String())
		default:
		}
		if time.Since(begin) > 30*time.Second {
			s.stop()
			return nil, fmt.Errorf("%s not ready after 30 s: %s", name, s.log)
		}
		pollPause()
	}
}

// pollPause waits 200 µs between two asks of /readyz. Not time.Sleep:
// a Go process with nothing else to run waits for its timers in the
// network poller, whose epoll_wait takes milliseconds, so a sleep of 200
// µs there lasts about 1.1 ms, and the start row read each server up to a
// millisecond late (half a millisecond on average, on starts of 6-15 ms
// where faults are cheap). nanosleep blocks this thread alone, to within
// tens of microseconds.
func pollPause() {
	ts := unix.NsecToTimespec((200 * time.Microsecond).Nanoseconds())
	_ = unix.Nanosleep(&ts, nil)
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// load runs the generator against s and returns its summary.
func (s *server) load(ctx context.Context, c config, args ...string) (summary, error) {
	args = append(args, "-json", "-duration", c.duration.String(), "-warmup", c.warmup.String(), "-server-pid", strconv.Itoa(s.cmd.Process.Pid))
	cmd := exec.CommandContext(ctx, filepath.Join(c.dir, "load"), args...)
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return summary{}, fmt.Errorf("load %v: %w", args, err)
	}
	var sum summary
	if err := json.Unmarshal(outb, &sum); err != nil {
		return summary{}, fmt.Errorf("load output %q: %w", outb, err)
	}
	if sum.Errors > 0 {
		return sum, errors.New("load: " + strconv.FormatInt(sum.Errors, 10) + " errors, first: " + sum.FirstError)
	}
	return sum, nil
}

// pretouchLine says what a page fault costs on this machine, as this
// process's start measured it, and so whether riskgate's start maps its
// pages in (internal/pretouch): the start row reads differently on the
// two kinds of machine.
func pretouchLine(d pretouch.Decision) string {
	state := "off"
	if d.On {
		state = "on"
	}
	if d.Fault == 0 {
		if d.Err != nil {
			return fmt.Sprintf("start-up pretouch %s (%s=%s): %v", state, pretouch.EnvVar, d.Mode, d.Err)
		}
		return fmt.Sprintf("start-up pretouch %s (%s=%s)", state, pretouch.EnvVar, d.Mode)
	}
	return fmt.Sprintf("a page fault %.1f µs, madvise %.1f µs a page: start-up pretouch %s (%s=%s)",
		float64(d.Fault)/1e3, float64(d.Populate)/1e3, state, pretouch.EnvVar, d.Mode)
}
