// Command stream measures riskgate's Kafka path (package api/stream)
// against an in-process Kafka (franz-go's kfake on 127.0.0.1, in the same
// process, so the broker's CPU counts against riskgate's):
//
//   - throughput: attempts already in the attempts topic, from the
//     runner's first fetch to the last decision written and its offset
//     committed, with the memory store;
//   - the floor: the same attempts through engine.Score in process, on as
//     many goroutines as the runner has workers; rounds alternate with the
//     stream's, and the ratio stream/Score is the stream's overhead;
//   - alert publishing: alerts through an alert.Dispatcher to the Kafka
//     alerts sink, acknowledged by the broker;
//   - latency: attempts produced at half the measured throughput, from the
//     time each was due to be produced to the time its decision is read
//     from the decisions topic (open loop, HdrHistogram).
//
// benchmarks/README.md records results and the command:
//
//	go run ./benchmarks/stream -n 200000 -rounds 3
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/signals"
)

const (
	tAttempts  = "attempts"
	tDecisions = "decisions"
	tAlerts    = "alerts"
	tLatency   = "attempts-latency"
)

type config struct {
	n          int
	users      int
	partitions int
	workers    int
	batch      int
	rounds     int
	alerts     int
	latencyFor time.Duration
	cpuProfile string
	inProcess  bool
	omit       bool
	broker     bool // internal: serve a broker, print its address and wait
}

// brokerPID is the broker's process, when it has one.
var brokerPID int

func main() {
	var c config
	flag.IntVar(&c.n, "n", 200_000, "attempts per throughput round")
	flag.IntVar(&c.users, "users", 20_000, "distinct users")
	flag.IntVar(&c.partitions, "partitions", 12, "partitions of every topic")
	flag.IntVar(&c.workers, "workers", runtime.GOMAXPROCS(0), "runner workers, and goroutines of the in-process floor")
	flag.IntVar(&c.batch, "batch", 256, "runner batch size")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds of floor and stream, alternating")
	flag.IntVar(&c.alerts, "alerts", 50_000, "alerts for the publishing measurement")
	flag.DurationVar(&c.latencyFor, "latency-for", 10*time.Second, "how long to produce at half the throughput for latency")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the stream rounds here")
	flag.BoolVar(&c.inProcess, "in-process-broker", false, "run the broker in this process (its CPU then counts against riskgate's)")
	flag.BoolVar(&c.omit, "omit-signals", false, "write decisions without their signals (--kafka-omit-signals)")
	flag.BoolVar(&c.broker, "serve-broker", false, "internal: run only a broker with the benchmark's topics, on a port the kernel gives, and print its address")
	gogc := flag.Int("gogc", 400, "garbage collector target, as riskgate serve sets it by default (--gc-percent)")
	flag.Parse()
	debug.SetGCPercent(*gogc)
	if c.broker {
		serveBroker(c)
		return
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "stream:", err)
		os.Exit(1)
	}
}

func newCluster(c config) (*kfake.Cluster, error) {
	return kfake.NewCluster(
		kfake.NumBrokers(1), kfake.SeedTopics(int32(c.partitions), tAttempts, tDecisions, tAlerts, tLatency),
		// kfake keeps each segment in one growing slice: small segments
		// spare it copying hundreds of megabytes as they grow.
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(4 << 20)}),
	)
}

// serveBroker is the child process that holds the broker, so that its
// CPU is not riskgate's: it prints the broker's address, on a port the
// kernel gave (one found free by the parent could be taken before the
// child bound it), and runs until its standard input closes.
func serveBroker(c config) {
	cl, err := newCluster(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve-broker:", err)
		os.Exit(1)
	}
	fmt.Println(cl.ListenAddrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin)
	cl.Close()
}

// startBroker starts the broker in a child process, or in this one.
func startBroker(c config) (addrs []string, stop func(), err error) {
	if c.inProcess {
		cl, err := newCluster(c)
		if err != nil {
			return nil, nil, err
		}
		return cl.ListenAddrs(), cl.Close, nil
	}
	cmd := exec.Command(os.Args[0], "-serve-broker", "-partitions", strconv.Itoa(c.partitions))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, nil, fmt.Errorf("broker process: %w", err)
	}
	brokerPID = cmd.Process.Pid
	return []string{strings.TrimSpace(addr)}, func() { stdin.Close(); _ = cmd.Wait() }, nil
}

// cpuTime is the CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// brokerCPU is the CPU the broker's process has used (0 in process).
func brokerCPU() time.Duration {
	if brokerPID == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", brokerPID))
	if err != nil {
		return 0
	}
	// Fields after the command (which is in parentheses): utime and stime
	// are the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

func run(c config) error {
	addrs, stop, err := startBroker(c)
	if err != nil {
		return err
	}
	defer stop()
	where := "its own process"
	if c.inProcess {
		where = "this process"
	}
	fmt.Printf("go %s, GOMAXPROCS %d, %d partitions, %d workers, batch %d, broker in %s\n", runtime.Version(), runtime.GOMAXPROCS(0), c.partitions, c.workers, c.batch, where)

	attempts := population(c.n, c.users, 0)
	if err := produce(addrs, tAttempts, attempts); err != nil {
		return err
	}
	fmt.Printf("produced %d attempts for %d users\n", len(attempts), c.users)

	var floors, streams, fcpus, scpus, bcpus []float64
	for round := range c.rounds {
		cpu0 := cpuTime()
		f, err := floor(attempts, c.workers)
		if err != nil {
			return err
		}
		cpu1, b1 := cpuTime(), brokerCPU()
		s, err := throughput(c, addrs, round)
		if err != nil {
			return err
		}
		cpu2, b2 := cpuTime(), brokerCPU()
		fcpu := float64((cpu1 - cpu0).Microseconds()) / float64(c.n)
		scpu := float64((cpu2 - cpu1).Microseconds()) / float64(c.n)
		bcpu := float64((b2 - b1).Microseconds()) / float64(c.n)
		floors, streams, fcpus, scpus, bcpus = append(floors, f), append(streams, s), append(fcpus, fcpu), append(scpus, scpu), append(bcpus, bcpu)
		fmt.Printf("round %d: in-process Score %7.0f/s (%5.1f µs CPU each)   stream %7.0f/s (%5.1f µs CPU each, broker %5.1f)   ratio %.2f\n",
			round+1, f, fcpu, s, scpu, bcpu, s/f)
	}
	fm, sm := median(floors), median(streams)
	fmt.Printf("median:  in-process Score %7.0f/s (%5.1f µs CPU each)   stream %7.0f/s (%5.1f µs CPU each, broker %5.1f)   ratio %.2f\n",
		fm, median(fcpus), sm, median(scpus), median(bcpus), sm/fm)
	fmt.Printf("riskgate's CPU per attempt on the stream is %.1fx that of Score alone: %.0f attempts/s per core it has\n",
		median(scpus)/median(fcpus), 1e6/median(scpus))

	ar, err := alertRate(addrs, c.alerts)
	if err != nil {
		return err
	}
	fmt.Printf("alerts published (dispatcher -> Kafka sink, acknowledged): %.0f/s\n", ar)

	return latency(c, addrs, sm/2)
}

// newEngine is the default engine on a fresh memory store.
func newEngine() (*engine.Engine, error) {
	set, err := rules.Default()
	if err != nil {
		return nil, err
	}
	k, err := engine.NewKeyer([]byte("benchmark-secret-0123456789"))
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Options{
		Store: memstore.New(memstore.Options{}), Rules: set, Keyer: k,
		Signals: signals.Default(signals.Config{}), Logger: slog.New(slog.DiscardHandler),
	})
}

// population is n logins of users: each user logs in from their own
// address and device, and one in twenty passwords is wrong.
func population(n, users, offset int) []engine.Attempt {
	t0 := time.Date(2026, 5, 9, 8, 0, 0, 0, time.UTC)
	out := make([]engine.Attempt, n)
	for i := range out {
		u := (i * 7919) % users
		res := engine.ResultPasswordOK
		if i%20 == 7 {
			res = engine.ResultPasswordBad
		}
		out[i] = engine.Attempt{
			Tenant: "bench", AttemptID: "a" + strconv.Itoa(offset+i), Time: t0.Add(time.Duration(i) * time.Millisecond),
			UserID: "u-" + strconv.Itoa(u), Username: "user" + strconv.Itoa(u) + "@example.com",
			IP: fmt.Sprintf("81.%d.%d.%d", 1+u/65536, (u/256)%256, u%256), DeviceID: "d-" + strconv.Itoa(u),
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
			Result:    res,
		}
	}
	return out
}

func encode(topic string, as []engine.Attempt) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, len(as))
	for i, a := range as {
		v, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		msgs[i] = kafka.Message{Topic: topic, Key: stream.Key(a.Tenant, a.UserID), Value: v}
	}
	return msgs, nil
}

func produce(addrs []string, topic string, as []engine.Attempt) error {
	msgs, err := encode(topic, as)
	if err != nil {
		return err
	}
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Balancer: stream.Partitioner, RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	for len(msgs) > 0 {
		n := min(len(msgs), 10_000)
		if err := w.WriteMessages(context.Background(), msgs[:n]...); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// floor scores the attempts in process on workers goroutines, each user's
// attempts on one goroutine and in order, as the stream does.
func floor(as []engine.Attempt, workers int) (float64, error) {
	e, err := newEngine()
	if err != nil {
		return 0, err
	}
	parts := make([][]engine.Attempt, workers)
	for _, a := range as {
		i := stream.Partition(stream.Key(a.Tenant, a.UserID), workers)
		parts[i] = append(parts[i], a)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, a := range p {
				if _, err := e.Score(context.Background(), a); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(len(as)) / time.Since(start).Seconds(), nil
}

// throughput runs a fresh runner in a new group over the whole attempts
// topic and times it from its first fetch until every decision is written
// and every offset committed.
func throughput(c config, addrs []string, round int) (float64, error) {
	e, err := newEngine()
	if err != nil {
		return 0, err
	}
	reg := prometheus.NewRegistry()
	r, err := stream.New(stream.Options{
		Brokers: addrs, AttemptsTopic: tAttempts, DecisionsTopic: tDecisions, AlertsTopic: tAlerts,
		Group: "throughput-" + strconv.Itoa(round), Workers: c.workers, BatchSize: c.batch, BufferSize: 8192,
		SessionTimeout: 10 * time.Second, OmitSignals: c.omit,
	}, stream.Deps{Scorer: e, Alerts: mustBuilder(), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	if c.cpuProfile != "" && round == 0 {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	var start time.Time
	for {
		consumed := counter(reg, "riskgate_kafka_messages_consumed_total")
		if start.IsZero() && consumed > 0 {
			start = time.Now()
		}
		if counter(reg, "riskgate_kafka_messages_produced_total", tDecisions) >= float64(c.n) && gauge(reg, "riskgate_kafka_consumer_lag") == 0 && consumed >= float64(c.n) {
			break
		}
		select {
		case err := <-done:
			return 0, fmt.Errorf("runner stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	took := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		return 0, err
	}
	return float64(c.n) / took.Seconds(), nil
}

func mustBuilder() *alert.Builder {
	k, _ := engine.NewKeyer([]byte("benchmark-secret-0123456789"))
	b, err := alert.NewBuilder(alert.BuilderOptions{Keyer: k})
	if err != nil {
		panic(err)
	}
	return b
}

// alertRate publishes alerts through a dispatcher to the Kafka sink and
// times them until Close has every one acknowledged.
func alertRate(addrs []string, n int) (float64, error) {
	sink, err := stream.NewAlertSink(stream.Options{Brokers: addrs, AlertsTopic: tAlerts}, nil)
	if err != nil {
		return 0, err
	}
	e, err := newEngine()
	if err != nil {
		return 0, err
	}
	// Real alerts: a stuffing run's decisions.
	var proto []*alert.Alert
	b := mustBuilder()
	for i := range 40 {
		d, err := e.Score(context.Background(), engine.Attempt{
			Tenant: "bench", AttemptID: "s" + strconv.Itoa(i), Username: "victim" + strconv.Itoa(i), IP: "203.0.113.9",
			Result: engine.ResultNoSuchUser, Time: time.Date(2026, 5, 9, 8, 0, i, 0, time.UTC),
		})
		if err != nil {
			return 0, err
		}
		if a := b.Build(&d); a != nil {
			proto = append(proto, a)
		}
	}
	if len(proto) == 0 {
		return 0, fmt.Errorf("the stuffing run raised no alerts")
	}
	d, err := alert.NewDispatcher(alert.Options{Builder: b, Sinks: []alert.SinkConfig{{Sink: sink, QueueSize: n}}, MaxBatch: 500, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := range n {
		a := *proto[i%len(proto)]
		a.DecisionID = "d" + strconv.Itoa(i)
		a.AlertID = alert.ID(a.Tenant, a.DecisionID)
		d.Publish(&a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// latency produces at rate for c.latencyFor and measures, per attempt,
// from when it was due to be produced to when its decision is read.
func latency(c config, addrs []string, rate float64) error {
	e, err := newEngine()
	if err != nil {
		return err
	}
	// Warm the users, as a running service would have them.
	for _, a := range population(c.users, c.users, 1<<30) {
		if _, err := e.Score(context.Background(), a); err != nil {
			return err
		}
	}
	r, err := stream.New(stream.Options{
		Brokers: addrs, AttemptsTopic: tLatency, DecisionsTopic: tDecisions, AlertsTopic: tAlerts,
		Group: "latency", Workers: c.workers, BatchSize: c.batch, StartOffset: "latest", SessionTimeout: 10 * time.Second,
		OmitSignals: c.omit,
	}, stream.Deps{Scorer: e, Alerts: mustBuilder(), Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()

	// Read decisions from the current end of every partition.
	hist := hdrhistogram.New(1, int64(60*time.Second/time.Microsecond), 3)
	var mu sync.Mutex
	due := sync.Map{} // attempt id -> due time
	total := int(rate * c.latencyFor.Seconds())
	var seen atomic.Int64
	readCtx, stopRead := context.WithCancel(context.Background())
	defer stopRead()
	var readers sync.WaitGroup
	for p := range c.partitions {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: addrs, Topic: tDecisions, Partition: p, MaxWait: 10 * time.Millisecond, MinBytes: 1, MaxBytes: 4 << 20})
		if err := rd.SetOffset(kafka.LastOffset); err != nil {
			return err
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer rd.Close()
			var d struct {
				AttemptID string `json:"attempt_id"`
			}
			for {
				m, err := rd.ReadMessage(readCtx)
				if err != nil {
					return
				}
				now := time.Now()
				if json.Unmarshal(m.Value, &d) != nil {
					continue
				}
				if t, ok := due.LoadAndDelete(d.AttemptID); ok {
					mu.Lock()
					_ = hist.RecordValue(int64(now.Sub(t.(time.Time)) / time.Microsecond))
					mu.Unlock()
					seen.Add(1)
				}
			}
		}()
	}
	time.Sleep(3 * time.Second) // let the runner join and the readers reach the end

	attempts := population(total, c.users, 1<<29)
	msgs, err := encode(tLatency, attempts)
	if err != nil {
		return err
	}
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Balancer: stream.Partitioner, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000}
	defer w.Close()
	start := time.Now()
	const tick = 2 * time.Millisecond
	sent := 0
	for sent < total {
		now := time.Now()
		target := min(total, int(now.Sub(start).Seconds()*rate)+1)
		if target > sent {
			for i := sent; i < target; i++ {
				due.Store(attempts[i].AttemptID, start.Add(time.Duration(float64(i)/rate*float64(time.Second))))
			}
			if err := w.WriteMessages(context.Background(), msgs[sent:target]...); err != nil {
				return err
			}
			sent = target
		}
		time.Sleep(tick)
	}
	deadline := time.Now().Add(30 * time.Second)
	for seen.Load() < int64(total) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stopRead()
	readers.Wait()
	cancel()
	<-done
	fmt.Printf("latency at %.0f attempts/s for %s (%d of %d decisions read): p50 %s, p90 %s, p99 %s, max %s\n",
		rate, c.latencyFor, seen.Load(), total,
		us(hist.ValueAtQuantile(50)), us(hist.ValueAtQuantile(90)), us(hist.ValueAtQuantile(99)), us(hist.Max()))
	return nil
}

func us(v int64) time.Duration {
	return (time.Duration(v) * time.Microsecond).Round(10 * time.Microsecond)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// counter sums a counter's series, optionally only those whose label
// values include one of want.
func counter(reg *prometheus.Registry, name string, want ...string) float64 {
	return sum(reg, name, want, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

func gauge(reg *prometheus.Registry, name string) float64 {
	return sum(reg, name, nil, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}

func sum(reg *prometheus.Registry, name string, want []string, val func(*dto.Metric) float64) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := len(want) == 0
			for _, l := range m.GetLabel() {
				if slices.Contains(want, l.GetValue()) {
					ok = true
				}
			}
			if ok {
				total += val(m)
			}
		}
	}
	return total
}
