package stream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// Scorer is what the runner needs of the engine (*engine.Engine, or the
// service layer in front of it).
type Scorer interface {
	Score(ctx context.Context, a engine.Attempt) (engine.Decision, error)
	Report(ctx context.Context, o engine.Outcome) error
}

// Claimer is told which attempts the runner publishes alerts for itself
// (*alert.Dispatcher), so that a dispatcher sink writing to the same
// alerts topic skips them.
type Claimer interface {
	Claim(tenant, attemptID string)
	Release(tenant, attemptID string)
}

// Deps are what a Runner works with.
type Deps struct {
	// Scorer scores attempts and reports outcomes, in place of the
	// service Run is given (tests and tools that have only an engine).
	Scorer Scorer
	// Alerts builds the alerts written to Options.AlertsTopic; nil writes
	// none.
	Alerts *alert.Builder
	// Claims, when set, is told about every attempt whose alert the runner
	// writes itself.
	Claims Claimer
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// TLS is Options.TLS's files loaded (LoadBrokerTLS), shared with the
	// alert sink; nil: New loads them.
	TLS *BrokerTLS
}

// Runner consumes the attempts and outcomes topics as one member of the
// consumer group. Create it with New, then call Run once.
type Runner struct {
	opts     Options
	deps     Deps
	conn     connection
	writer   *kafka.Writer
	m        *metrics
	log      *slog.Logger
	sem      chan struct{} // one token per message fetched and not yet done
	workers  []chan *item
	scorer   Scorer // Deps.Scorer, or the service Run was given
	running  atomic.Bool
	fetchers sync.WaitGroup // partition fetchers running
	warned   sync.Map       // message kind -> *atomic.Int64, for rate-limited warnings
	// abandoned counts the messages of batches abandoned at shutdown,
	// fetched and never committed (Undrained).
	abandoned atomic.Int64
	stopped   <-chan struct{} // Run's context's Done: closed at shutdown

	// Test hooks: fetched is called for every message handed to a worker;
	// topicEvery, when set, replaces topicCheckEvery.
	fetched    func(kafka.Message)
	topicEvery time.Duration
}

// TLSFiles are the TLS files the stream's connections use, by use. Each
// new connection takes the files' contents in force: re-reading them
// (SIGHUP) is their owner's, see tlsfiles.
func (r *Runner) TLSFiles() []tlsfiles.Use { return r.conn.tls.Files() }

// New checks the options and prepares a Runner; it does not connect.
func New(opts Options, deps Deps) (*Runner, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	conn, err := opts.connection(deps.TLS)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		opts: opts, deps: deps, conn: conn, m: newMetrics(), log: deps.Logger.With("component", "kafka"),
		sem: make(chan struct{}, opts.BufferSize), workers: make([]chan *item, opts.Workers),
	}
	for i := range r.workers {
		r.workers[i] = make(chan *item, opts.BufferSize)
	}
	r.m.buffer.fillFn = func() (int, int) { return len(r.sem), cap(r.sem) }
	if err := r.m.register(deps.Registerer); err != nil {
		return nil, err
	}
	r.m.known([]string{opts.AttemptsTopic, opts.OutcomesTopic}, []string{opts.DecisionsTopic, opts.AlertsTopic, opts.DeadLetterTopic})
	r.writer = &kafka.Writer{
		Addr:         kafka.TCP(opts.Brokers...),
		Balancer:     Partitioner,
		RequiredAcks: kafka.RequireAll,
		// A worker writes a whole batch at once: let the writer send what
		// it has after 2ms rather than kafka-go's default second.
		BatchTimeout:    2 * time.Millisecond,
		BatchSize:       max(opts.BatchSize, 100),
		MaxAttempts:     3,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: time.Second,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    10 * time.Second,
		Transport:       conn.transport,
	}
	return r, nil
}

// Connected reports whether the runner's last exchange with the brokers
// (connecting, joining the group, writing) succeeded: what
// riskgate_kafka_connected says, for a health check.
func (r *Runner) Connected() bool { return r.m.isConnected.Load() }

// Exchanged reports whether the runner has tried an exchange with the
// brokers yet, whatever its result: before its first, Connected is false
// without anything having failed.
func (r *Runner) Exchanged() bool { return r.m.exchanged.Load() }

// Name implements node.Runner.
func (r *Runner) Name() string { return "kafka" }

// Run consumes until ctx is cancelled, scoring and reporting with svc
// (or Deps.Scorer when set): it implements node.Runner. Then it stops
// fetching, finishes the messages in flight, writes their outputs and
// commits them, within Options.ShutdownTimeout, leaves the group and
// returns nil, or an error wrapping ErrUndrained when the budget ran out
// before everything fetched was committed. It returns
// an error at once when the brokers refuse the configuration (failed
// authentication or TLS, a missing topic); while they cannot be reached it
// keeps trying, with riskgate_kafka_connected at 0. A consumed topic
// deleted later is not consumed until it is back (consumeGroups), with
// riskgate_kafka_topic_missing at 1.
func (r *Runner) Run(ctx context.Context, svc *service.Service) (err error) {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("stream: Run called twice")
	}
	r.scorer = r.deps.Scorer
	if r.scorer == nil {
		if svc == nil {
			return errors.New("stream: no service to score with")
		}
		r.scorer = svc
	}
	defer r.closeWriter()
	// Work outlives ctx by the shutdown budget, so that a shutdown
	// finishes what is in flight.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	r.stopped = ctx.Done()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(r.opts.ShutdownTimeout, cancelWork)
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()

	if err := r.preflight(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	var workers sync.WaitGroup
	scoring := engine.WithStoreWait(work, r.opts.StoreTimeout)
	for _, in := range r.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			r.work(scoring, in)
		}()
	}
	defer func() {
		// Fetchers stop promptly once ctx and the shutdown budget are
		// done; only then may their workers' queues close.
		r.fetchers.Wait()
		for _, in := range r.workers {
			close(in)
		}
		workers.Wait()
		if err == nil {
			err = r.Undrained()
		}
	}()

	r.consumeGroups(ctx, work)
	return nil
}

// prefetch is how many messages a partition reader fetches ahead of the
// buffer, per partition.
const prefetch = 100

// rebalanceTimeout is how long the group waits for members to rejoin;
// a partition being handed over drains for at most as long.
const rebalanceTimeout = 30 * time.Second

// generation is one consumer group generation, whose offsets can be
// committed only while it lasts: a commit after it ended is refused by
// the coordinator, so a slow worker never rewinds a partition that has
// moved to another node.
type generation struct {
	g  *kafka.Generation
	mu sync.Mutex // one commit at a time on the generation's connection
}

func (g *generation) commit(offsets map[string]map[int]int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.g.CommitOffsets(offsets)
}

// partition is one assigned partition within a generation.
type partition struct {
	topic string
	id    int
	gen   *generation
	wg    sync.WaitGroup // messages handed to a worker and not yet done

	// The lag is updated as messages are fetched as well as when they are
	// committed: a partition whose writes or scoring are stuck shows its
	// lag growing, rather than the lag of its last commit.
	lag       prometheus.Gauge
	committed atomic.Int64 // the offset to resume from; -1 until known
	highWater atomic.Int64
	// uncommitted counts the messages decided since the partition's last
	// commit that succeeded, whose commits failed; failedNext is the
	// offset the last failed commit was for. A later commit covers them;
	// else the end of the partition's generation tries once more
	// (commitLeftovers).
	uncommitted atomic.Int64
	failedNext  atomic.Int64
}

// fetched notes a message fetched, and the partition's high watermark.
func (p *partition) fetched(m *kafka.Message) {
	p.committed.CompareAndSwap(-1, m.Offset) // where this owner started
	p.highWater.Store(m.HighWaterMark)
	p.setLag()
}

// done notes offsets up to next (excluded) committed.
func (p *partition) done(next, highWater int64) {
	p.committed.Store(next)
	p.uncommitted.Store(0)
	if highWater > p.highWater.Load() {
		p.highWater.Store(highWater)
	}
	p.setLag()
}

func (p *partition) setLag() {
	p.lag.Set(float64(max(p.highWater.Load()-p.committed.Load(), 0)))
}

// item is one fetched message on its way through a worker.
type item struct {
	msg  kafka.Message
	part *partition
}

// consume fetches one partition for the generation and hands its messages
// to the partition's worker, until the generation or the runner ends;
// then it waits for what it handed over to be committed.
func (r *Runner) consume(ctx, work, gctx context.Context, g *generation, topic string, id int, offset int64) {
	p := &partition{topic: topic, id: id, gen: g, lag: r.m.lag.WithLabelValues(topic, strconv.Itoa(id))}
	p.committed.Store(max(offset, -1)) // kafka.FirstOffset and LastOffset: not known yet
	// MaxWait is also how long a fetch's answer may take to arrive: at
	// 250 ms, a broker 300 ms away (another continent; or a busy broker
	// building a large batch) answered every fetch too late, and the
	// partition never moved (TestFarBroker). With MinBytes 1 the broker
	// answers as soon as there is data, so waiting longer costs no
	// latency; it costs a reader being closed (a rebalance, a shutdown)
	// up to that long. kafka-go keeps a quarter of it for the round trip
	// of an idle partition's long poll below a second.
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers: r.opts.Brokers, Topic: topic, Partition: id, Dialer: r.conn.dialer,
		MinBytes: 1, MaxBytes: 4 << 20, MaxWait: time.Second, QueueCapacity: prefetch,
		ReadBackoffMin: 100 * time.Millisecond, ReadBackoffMax: 2 * time.Second,
		ErrorLogger: kafka.LoggerFunc(r.readError),
		// An offset past the partition's end is told, not retried for
		// ever: see resetOffset.
		OffsetOutOfRangeError: true,
	})
	defer rd.Close()
	fctx, cancel := context.WithCancel(gctx)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	if err := rd.SetOffset(offset); err != nil {
		r.log.Error("cannot start a partition", "topic", topic, "partition", id, "offset", offset, "err", err)
		return
	}
	in := r.workers[workerOf(topic, id, len(r.workers))]
	tm := r.m.topic(topic)
fetch:
	for {
		m, err := rd.FetchMessage(fctx)
		if err != nil {
			if fctx.Err() != nil {
				break fetch
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				r.resetOffset(rd, p)
				continue
			}
			r.warn("fetch", "fetch failed", "topic", topic, "partition", id, "err", err)
			continue
		}
		// A full buffer (outputs that cannot be written) pauses fetching.
		select {
		case r.sem <- struct{}{}:
		case <-fctx.Done():
			break fetch
		}
		tm.consumed.Inc()
		p.fetched(&m)
		if r.fetched != nil {
			r.fetched(m)
		}
		p.wg.Add(1)
		in <- &item{msg: m, part: p} // never blocks: its capacity is the buffer's
	}
	// Let what was handed over be committed in this generation, so the
	// next owner starts after it. Past the drain bound, whatever is still
	// in flight is delivered again to the next owner.
	drained := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(drained)
	}()
	t := time.NewTimer(rebalanceTimeout)
	defer t.Stop()
	select {
	case <-drained:
	case <-work.Done():
	case <-t.C:
		r.log.Warn("partition did not drain before the rebalance timeout; its messages in flight will be delivered again", "topic", topic, "partition", id)
	}
	r.commitLeftovers(work, g, p)
	r.m.dropLag(topic, id)
}

// commitLeftovers tries once more, at the end of the partition's
// generation, a commit that failed and that no later one covered (the
// partition's last batch, a commit timed out at shutdown), unless the
// shutdown budget (work) is spent. When that fails too at shutdown, the
// messages count as left uncommitted (Undrained): they will be delivered
// again, and the process says so rather than exiting as if it had
// committed everything. After a rebalance that is expected, and not
// counted.
func (r *Runner) commitLeftovers(work context.Context, g *generation, p *partition) {
	n := p.uncommitted.Load()
	if n == 0 {
		return
	}
	next := p.failedNext.Load()
	err := work.Err()
	if err == nil {
		if err = g.commit(map[string]map[int]int64{p.topic: {p.id: next}}); err == nil {
			p.done(next, 0)
			r.log.Info("kafka commit retried at the end of the partition's generation", "topic", p.topic, "partition", p.id, "messages", n)
			return
		}
		r.m.commitErrors.Inc()
	}
	select {
	case <-r.stopped:
	default:
		return // a rebalance: the next owner gets them again, as expected
	}
	total := r.abandoned.Add(n)
	r.log.Warn("shutdown: committing offsets failed; their messages will be delivered again",
		"topic", p.topic, "partition", p.id, "messages", n, "abandoned_total", total, "err", err)
}

// resetOffset moves a partition whose offset is past its end to where
// --kafka-start-offset starts a new group (earliest: the partition's
// first message), as Kafka's auto.offset.reset does. The log ends before
// the offset when the topic was deleted and made again (the group's
// offsets, and the reader's, are the old topic's) or the brokers lost
// its end (an unclean leader election). kafka-go retried the offset for
// ever: every message of the topic made again, up to the old offset,
// went undecided without an error.
func (r *Runner) resetOffset(rd *kafka.Reader, p *partition) {
	from, to := p.committed.Load(), r.opts.startOffset()
	r.m.offsetResets.WithLabelValues(p.topic).Inc()
	r.log.Warn("kafka partition offset past its end (the topic made again, or its end lost); resuming where --kafka-start-offset says",
		"topic", p.topic, "partition", p.id, "offset", from, "start_offset", r.opts.StartOffset)
	if err := rd.SetOffset(to); err != nil {
		r.warn("reset", "cannot move the partition's offset", "topic", p.topic, "partition", p.id, "err", err)
	}
	p.committed.Store(-1) // known again at the next message fetched
}

// workerOf spreads partitions over workers; a partition always maps to
// the same worker, which keeps its order.
func workerOf(topic string, partition, workers int) int {
	h := fnv.New32a()
	h.Write([]byte(topic))
	h.Write([]byte(strconv.Itoa(partition)))
	return int(h.Sum32() % uint32(workers))
}

// preflight connects once and checks the topics, so that a wrong
// password, certificate or topic name stops Run with a clear error rather
// than a stream of retries. Unreachable brokers are retried.
func (r *Runner) preflight(ctx context.Context) error {
	for failures := 0; ; failures++ {
		err := r.check(ctx)
		if err == nil {
			r.m.setConnected(true)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if permanent(err) {
			r.m.setConnected(false)
			return err
		}
		r.m.setConnected(false)
		r.warn("connect", "kafka brokers unreachable; retrying", "brokers", r.opts.Brokers, "err", err)
		sleepCtx(ctx, backoff(failures, 200*time.Millisecond, 10*time.Second))
	}
}

// dialAny connects to the first broker that answers, its failures said
// by describeDialError; it stops at one that retrying cannot fix.
func (r *Runner) dialAny(ctx context.Context) (*kafka.Conn, error) {
	var err error
	for _, b := range r.opts.Brokers {
		conn, derr := r.conn.dialer.DialContext(ctx, "tcp", b)
		if derr == nil {
			return conn, nil
		}
		if err = describeDialError(&r.opts, b, derr); permanent(err) {
			break
		}
	}
	return nil, err
}

func (r *Runner) check(ctx context.Context) error {
	conn, err := r.dialAny(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	broker := conn.RemoteAddr().String()
	for _, t := range []string{r.opts.AttemptsTopic, r.opts.OutcomesTopic, r.opts.DecisionsTopic, r.opts.AlertsTopic, r.opts.DeadLetterTopic} {
		if t == "" {
			continue
		}
		if _, err := conn.ReadPartitions(t); err != nil {
			switch {
			case errors.Is(err, kafka.UnknownTopicOrPartition):
				return &permanentError{fmt.Errorf("stream: topic %q does not exist: create it first (riskgate does not create topics)", t)}
			case errors.Is(err, kafka.TopicAuthorizationFailed):
				return &permanentError{fmt.Errorf("stream: not authorised to use topic %q: %w", t, err)}
			}
			// TLS 1.3 brokers refuse a client certificate only now.
			return describeDialError(&r.opts, broker, fmt.Errorf("metadata of topic %q: %w", t, err))
		}
	}
	return nil
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// describeDialError says what a failed connection means, marking the
// failures that retrying cannot fix.
func describeDialError(o *Options, broker string, err error) error {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		op       *net.OpError
		netErr   net.Error
	)
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed), errors.Is(err, kafka.UnsupportedSASLMechanism),
		errors.Is(err, kafka.IllegalSASLState):
		return &permanentError{fmt.Errorf("stream: broker %s refused SASL %s authentication as %q (check the user name and password): %w",
			broker, o.SASL.Mechanism, o.SASL.Username, err)}
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return &permanentError{fmt.Errorf("stream: broker %s: TLS certificate not trusted (check --kafka-tls-ca and --kafka-tls-server-name): %w", broker, err)}
	case errors.As(err, &op) && op.Op == "remote error": // a TLS alert from the broker
		return &permanentError{fmt.Errorf("stream: broker %s refused the TLS handshake (a client certificate it trusts? --kafka-tls-cert, --kafka-tls-key): %w", broker, err)}
	case errors.As(err, &record):
		return &permanentError{fmt.Errorf("stream: broker %s does not speak TLS (drop the --kafka-tls-* settings, or use its TLS port): %w", broker, err)}
	case errors.As(err, &netErr):
		return fmt.Errorf("stream: broker %s: %w", broker, err)
	}
	return fmt.Errorf("stream: broker %s: %w", broker, err)
}

// backoff is exponential from min to max, with equal jitter.
func backoff(failures int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < failures && d < max; i++ {
		d *= 2
	}
	d = min + (d-min)/2
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// warn logs at most one line per kind every 10 seconds: an outage must
// not log a line per message.
func (r *Runner) warn(kind, msg string, args ...any) {
	v, _ := r.warned.LoadOrStore(kind, new(atomic.Int64))
	last := v.(*atomic.Int64)
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(10*time.Second) || !last.CompareAndSwap(prev, now) {
		return
	}
	r.log.Warn(msg, args...)
}

func (r *Runner) groupError(format string, args ...any) {
	r.warn("group", "consumer group: "+fmt.Sprintf(format, args...))
}

func (r *Runner) readError(format string, args ...any) {
	r.warn("read", "partition reader: "+fmt.Sprintf(format, args...))
}
