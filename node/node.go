package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/metrics"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/filewatch"
	"github.com/riskgate/riskgate/internal/tlsfiles"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/rulemetrics"
	"github.com/riskgate/riskgate/signals"
)

// Registry is where a node registers its metrics and what /metrics serves.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Runner is a transport that runs beside the listeners, such as a Kafka
// consumer: Run serves the service until ctx is done, then finishes what it
// has in flight, flushes what it produces, and returns. Serve starts every
// runner with the listeners and waits for them before it closes the
// observers and the store. A runner that fails (returns before ctx is
// done) shuts the node down, as a failed listener does.
type Runner interface {
	Name() string
	Run(ctx context.Context, svc *service.Service) error
}

// Closer is an observer that holds something to flush or release (a sink
// with a buffer): the node closes it on shutdown, after the transports
// have drained and before the store.
type Closer interface {
	Close(ctx context.Context) error
}

// Option adds to or adjusts what a node is built from.
type Option func(*settings)

type settings struct {
	log       *slog.Logger
	reg       Registry
	observers []engine.Observer
	runners   []Runner
	routes    []func(*service.Service) []httpapi.Route
	checks    []server.Check
	store     engine.Store
	ruleset   *rules.Set
	enrichers []engine.Enricher
	breach    *signals.BreachChecker
	secret    []byte
	engine    []func(*engine.Options)
}

// WithLogger logs to l; default: the logger Config.Log describes.
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.log = l } }

// WithRegistry registers the node's metrics on reg: the decision and API
// metrics (an observer of every decision) and those of every part (rules,
// GeoIP, IP lists, breached passwords, Redis). Without it the node keeps
// no metrics, and Serve serves an empty /metrics.
func WithRegistry(reg Registry) Option { return func(s *settings) { s.reg = reg } }

// WithObserver adds an observer of every decision, outcome and failure
// (an alert sink, a capture for backtests). It runs on the scoring path:
// it must not block. If it is a Closer, the node closes it on shutdown.
func WithObserver(o engine.Observer) Option {
	return func(s *settings) { s.observers = append(s.observers, o) }
}

// WithRunner adds a transport that Serve runs beside the listeners.
func WithRunner(r Runner) Option { return func(s *settings) { s.runners = append(s.runners, r) } }

// WithRoutes adds HTTP routes (a web hook) to the HTTP listener, built on
// the node's service. Each route names its service operation, whose level
// a caller needs; they are measured as the API's are.
func WithRoutes(routes func(svc *service.Service) []httpapi.Route) Option {
	return func(s *settings) { s.routes = append(s.routes, routes) }
}

// WithCheck adds a readiness check to /readyz and the gRPC health service.
func WithCheck(name string, check func(ctx context.Context) error) Option {
	return func(s *settings) { s.checks = append(s.checks, server.Check{Name: name, Check: check}) }
}

// WithOptionalCheck adds the health check of a part the process answers
// without: reported in /readyz's checks and as the gRPC health service
// healthService, it never makes the process unready.
func WithOptionalCheck(name, healthService string, check func(ctx context.Context) error) Option {
	return func(s *settings) {
		s.checks = append(s.checks, server.Check{Name: name, Check: check, Optional: true, HealthService: healthService})
	}
}

// WithStore uses store instead of the one Config.Store names. The caller
// closes it.
func WithStore(store engine.Store) Option { return func(s *settings) { s.store = store } }

// WithRuleset puts set in force instead of loading Config.Rules (rule
// tests, tools that compiled it already).
func WithRuleset(set *rules.Set) Option { return func(s *settings) { s.ruleset = set } }

// WithEnrichers adds enrichers after those the config opens. The caller
// closes them.
func WithEnrichers(e ...engine.Enricher) Option {
	return func(s *settings) { s.enrichers = append(s.enrichers, e...) }
}

// WithBreachChecker uses check (nil: none) instead of the filter
// Config.Breached names.
func WithBreachChecker(check signals.BreachChecker) Option {
	return func(s *settings) { s.breach = &check }
}

// WithSecret keys stored identifiers with secret instead of the one the
// config names (tests and tools, whose secret is not one).
func WithSecret(secret []byte) Option { return func(s *settings) { s.secret = secret } }

// WithEngine adjusts the engine's options last, after everything above:
// for tools and tests that fix the clock or the decision ids.
func WithEngine(adjust func(*engine.Options)) Option {
	return func(s *settings) { s.engine = append(s.engine, adjust) }
}

// Node is one riskgate: the engine, its store, the rules in force and
// their lifecycle, enrichers, the breached-password filter, observers and
// metrics, and the service every transport calls; Serve puts it on its
// listeners. It is assembled by New and taken apart, in order, by Close.
type Node struct {
	cfg     Config
	set     settings
	log     *slog.Logger
	metrics *metrics.Metrics // nil without a registry
	store   engine.Store
	rules   *rules.Manager
	engine  *engine.Engine
	service *service.Service
	checks  []server.Check
	keyerID atomic.Pointer[keyerCheck] // with a store that starts down
	// fatal carries an error that must stop the node (Serve returns it):
	// a store that came up keyed with another secret before it was ever
	// used.
	fatal chan error
	srv   *server.Server // after Listen

	enrichers    []engine.Enricher
	breach       signals.BreachChecker
	stableSecret bool         // the secret is configured, not random
	capture      *nodeCapture // nil without --capture-dir

	dispatcher *alert.Dispatcher // nil without alerts
	stream     *stream.Runner    // nil without Kafka

	dataFiles []dataFiles // what SIGHUP re-reads besides rules and certificates

	tlsMu    sync.Mutex
	tlsFiles []tlsfiles.Use // the TLS files in use besides the listeners' key pairs
	// tlsReloadMu makes a SIGHUP's reload of the TLS files and the watch's
	// one at a time, each with its sweep of untrusted clients.
	tlsReloadMu sync.Mutex
	tlsWatch    *filewatch.Watcher // nil without --tls-watch; set before SIGHUP is served

	closers   []closer // in the order things were opened
	closeOnce sync.Once
	closeErr  error
}

type closer struct {
	name  string
	close func(ctx context.Context) error
	// beside: Close runs it beside the closers after it, not before them
	// (the alert dispatcher's best-effort flush, see Close).
	beside bool
}

// New assembles a node from cfg. It opens files and connects to the store
// but serves nothing until Serve. On error, whatever was opened is closed.
func New(ctx context.Context, cfg Config, opts ...Option) (*Node, error) {
	n := &Node{cfg: cfg}
	for _, o := range opts {
		o(&n.set)
	}
	n.fatal = make(chan error, 1)
	n.log = n.set.log
	if n.log == nil {
		n.log = cfg.Log.NewLogger()
	}
	if err := n.assemble(ctx); err != nil {
		_ = n.Close(context.Background())
		return nil, err
	}
	return n, nil
}

// assemble builds the parts in dependency order; Close takes them apart
// in the reverse order.
func (n *Node) assemble(ctx context.Context) error {
	cfg := &n.cfg
	var observers []engine.Observer
	if n.set.reg != nil {
		m, err := metrics.New(n.set.reg, metrics.Options{MaxTenants: cfg.Metrics.MaxTenants})
		if err != nil {
			return err
		}
		n.metrics = m
		observers = append(observers, m)
	}
	secret, err := n.secret()
	if err != nil {
		return err
	}
	ropts := rules.Options{Paths: cfg.Rules, TenantsDir: cfg.RulesTenants, Set: n.set.ruleset, Debounce: cfg.RulesDebounce, Poll: cfg.RulesPoll, Logger: n.log}
	if n.metrics != nil {
		ropts.OnInstall = func(s *rules.Set) {
			ids := make([]string, 0, len(s.Rules()))
			for _, r := range s.Rules() {
				ids = append(ids, r.ID)
			}
			n.metrics.KnownRules(ids)
		}
	}
	if n.rules, err = rules.NewManager(ropts); err != nil {
		return err
	}
	n.collect(rulemetrics.New(n.rules))
	n.collect(tlsFilesCollector{n})
	var check signals.BreachChecker
	var waitBreached func() (signals.BreachChecker, error)
	if n.set.breach != nil {
		check = *n.set.breach
	} else {
		waitBreached = n.openingBreached(cfg.PasswordConfig, cfg.BreachedPoll)
	}
	enrichers, err := n.openEnrichers(cfg.GeoIP)
	if waitBreached != nil {
		var berr error
		if check, berr = waitBreached(); err == nil {
			err = berr
		}
	}
	if err != nil {
		return err
	}
	enrichers = append(enrichers, n.set.enrichers...)
	n.enrichers, n.breach = enrichers, check
	storeTimeout, err := n.openStore(ctx)
	if err != nil {
		return err
	}
	// The capture closes before the store: it is opened after it.
	sink, inForce, err := n.openCapture(secret)
	if err != nil {
		return err
	}
	if sink != nil {
		observers = append(observers, sink)
	}
	keyer, err := n.keyer(ctx, secret)
	if err != nil {
		return err
	}
	alerts, err := n.openAlerts(keyer)
	if err != nil {
		return err
	}
	observers = append(observers, alerts...)
	for _, o := range n.set.observers {
		observers = append(observers, o)
		if c, ok := o.(Closer); ok {
			n.onCloseCtx(fmt.Sprintf("observer %T", o), c.Close)
		}
	}
	opts := engine.Options{
		Store: n.store, Rules: inForce, Keyer: keyer, Enrichers: enrichers, Observers: observers, Logger: n.log,
		Signals:      signals.Default(signals.Config{MaxSpeedKMH: cfg.MaxSpeed, Breached: check}),
		StoreTimeout: storeTimeout, MaxClockSkew: cfg.MaxClockSkew,
	}
	_, inProcess := n.store.(*memstore.Store)
	cfg.Memory.engineOptions(&opts, inProcess)
	opts.RetryWindow = cfg.AttemptWindow
	for _, adjust := range n.set.engine {
		adjust(&opts)
	}
	if n.engine, err = engine.New(opts); err != nil {
		return err
	}
	if _, ok := n.engine.RetryStats(); ok {
		n.collect(retryCacheCollector(n.engine))
	}
	ms, _ := n.store.(*memstore.Store)
	if tables := evictingTables(ms, n.engine); len(tables) > 0 {
		stop := make(chan struct{})
		go logEvictions(n.log, tables, evictionCheck, stop)
		n.onClose("eviction log", func() error { close(stop); return nil })
	}
	if n.metrics != nil {
		enrichers, sigs := n.engine.StageNames()
		n.metrics.KnownStages(enrichers, sigs, ruleIDs(n.rules.Set()))
	}
	var svcOpts []service.Option
	if n.capture != nil {
		svcOpts = append(svcOpts, service.WithCapture(n.capture))
	}
	n.service = service.New(n.engine, n.rules, svcOpts...)
	return nil
}

// ruleIDs are the ids of a ruleset's rules (none without one).
func ruleIDs(set *rules.Set) []string {
	var ids []string
	if set != nil {
		for _, r := range set.Rules() {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// secret is the HMAC secret that keys stored identifiers. A store that
// outlives the process needs a stable one; the memory store may have a
// random one.
func (n *Node) secret() ([]byte, error) {
	if n.set.secret != nil {
		n.stableSecret = true
		return n.set.secret, nil
	}
	b, err := readSecret("--hmac-secret-file", n.cfg.HMACSecretFile, "RISKGATE_HMAC_SECRET", engine.MinSecretLen)
	if err != nil || b != nil {
		n.stableSecret = b != nil
		return b, err
	}
	if n.set.store == nil && !n.cfg.memoryStore() {
		return nil, errors.New("hmac secret: a persistent store needs a stable secret: set --hmac-secret-file or RISKGATE_HMAC_SECRET")
	}
	b = make([]byte, 32)
	_, _ = rand.Read(b)
	return b, nil
}

// Engine is the node's engine.
func (n *Node) Engine() *engine.Engine { return n.engine }

// Service is the node's service: the operations every transport calls.
func (n *Node) Service() *service.Service { return n.service }

// Rules is the manager of the rules in force.
func (n *Node) Rules() *rules.Manager { return n.rules }

// Store is the node's state store.
func (n *Node) Store() engine.Store { return n.store }

// collect registers a part's metrics, when the node keeps metrics.
func (n *Node) collect(c prometheus.Collector) {
	if n.set.reg != nil {
		n.set.reg.MustRegister(c)
	}
}

// onClose and onCloseCtx add to what Close takes apart.
func (n *Node) onClose(name string, f func() error) {
	n.onCloseCtx(name, func(context.Context) error { return f() })
}

func (n *Node) onCloseCtx(name string, f func(ctx context.Context) error) {
	n.closers = append(n.closers, closer{name: name, close: f})
}

// Close takes the node apart in the reverse order of its assembly: the
// observers (sinks flush), the store (buffered writes flush), the
// breached-password filter, the enrichers. It is the one shutdown path:
// Serve calls it once the transports have drained. Close is idempotent.
//
// The alert dispatcher flushes beside the rest, not before it: delivering
// to a sink that is down goes on until ctx ends (what is left is then
// counted and logged), and the store's writes, which every later decision
// reads, must not get an expired ctx for it. Each has all of ctx.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		errs := make([]error, len(n.closers))
		var beside sync.WaitGroup
		for i := len(n.closers) - 1; i >= 0; i-- {
			c := n.closers[i]
			run := func() {
				if err := c.close(ctx); err != nil {
					errs[i] = fmt.Errorf("close %s: %w", c.name, err)
				}
			}
			if c.beside {
				beside.Go(run)
			} else {
				run()
			}
		}
		beside.Wait()
		slices.Reverse(errs) // in the order of closing
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
