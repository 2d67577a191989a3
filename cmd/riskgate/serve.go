package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/riskgate/riskgate/api/auth"
	"github.com/riskgate/riskgate/api/liverules"
	"github.com/riskgate/riskgate/api/metrics"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/redisstore"
)

// serveCmd is `riskgate serve`: flags, environment and config file in,
// api/server out. Every flag is documented in docs/configuration.md, which
// a test regenerates from this struct.
type serveCmd struct {
	Config string `help:"YAML configuration file. Flags override RISKGATE_* variables, which override the file." placeholder:"FILE" env:"RISKGATE_CONFIG" type:"existingfile"`

	HTTP    httpFlags    `embed:"" prefix:"http-" yaml:"http" group:"Listeners"`
	GRPC    grpcFlags    `embed:"" prefix:"grpc-" yaml:"grpc" group:"Listeners"`
	Metrics metricsFlags `embed:"" prefix:"metrics-" yaml:"metrics" group:"Listeners"`
	Auth    authFlags    `embed:"" yaml:"auth" group:"Security"`

	Store        string        `help:"State store: memory, or a Redis URL (redis://, rediss://, unix://; Cluster and Sentinel forms in docs/configuration.md)." default:"memory" group:"State"`
	StoreTimeout time.Duration `help:"Bound on every store call; past it the decision is made without state. 0: none for memory, 50ms for Redis." default:"0s" group:"State"`
	Memory       memoryFlags   `embed:"" prefix:"memory-" yaml:"memory" group:"State"`

	RulesWatch    bool          `help:"Reload the rule files when they change." default:"true" negatable:"" group:"Rules"`
	RulesDebounce time.Duration `help:"How long rule file changes must settle before a reload." default:"250ms" group:"Rules"`
	MaxClockSkew  time.Duration `help:"Reject attempts dated further in the future than this (0 disables the check)." default:"5m"`

	PprofAddr string `help:"Serve Go's pprof profiles on this address (keep it on loopback); empty: off."`
	GCPercent int    `help:"Go garbage collector target, as GOGC: the heap may grow this many percent over the live data before a collection. The state store is a large live heap that every collection marks, so collecting less often saves about a quarter of the CPU per call, for about twice the heap. GOGC in the environment, when set, wins; 0 leaves the runtime's default (100)." default:"400"`

	Shutdown shutdownFlags `embed:"" prefix:"shutdown-" yaml:"shutdown"`
	Log      logFlags      `embed:"" prefix:"log-" yaml:"log"`

	engineFlags `embed:""`
}

type httpFlags struct {
	Addr string   `help:"HTTP/JSON API address (empty: no HTTP listener). /metrics, /healthz and /readyz are served here unless --metrics-addr is set." default:"127.0.0.1:8080"`
	TLS  tlsFlags `embed:"" prefix:"tls-" yaml:"tls"`
}

type grpcFlags struct {
	Addr       string   `help:"gRPC API address (empty: no gRPC listener)." default:"127.0.0.1:9090"`
	Reflection bool     `help:"Serve gRPC reflection, so grpcurl needs no .proto files." default:"true" negatable:""`
	TLS        tlsFlags `embed:"" prefix:"tls-" yaml:"tls"`
}

type tlsFlags struct {
	Cert       string `help:"TLS certificate file (PEM); with the key, the listener serves TLS. Reloaded on SIGHUP." placeholder:"FILE"`
	Key        string `help:"TLS private key file (PEM)." placeholder:"FILE"`
	ClientCA   string `help:"CA certificates (PEM) that client certificates must chain to; enables mutual TLS." placeholder:"FILE"`
	ClientAuth string `help:"With a client CA: optional (verify a certificate when one is presented) or require." default:"optional" enum:"optional,require"`
}

type metricsFlags struct {
	Addr       string `help:"Serve /metrics, /healthz and /readyz on this address, apart from the API, in plain HTTP."`
	MaxTenants int    `help:"Tenants that get their own metric series; the rest count as \"other\"." default:"100"`
}

type authFlags struct {
	AdminTokenFile   string   `help:"File holding the admin bearer token (rules, profiles, erasure). Or set RISKGATE_ADMIN_TOKEN. Without a token or admin certificates the admin API is off." placeholder:"FILE"`
	ScoringTokenFile string   `help:"File holding the bearer token that Score and Report require. Or set RISKGATE_SCORING_TOKEN. Without one, scoring is open." placeholder:"FILE"`
	AdminCertNames   []string `help:"Client certificate names (CN, DNS, e-mail or URI SAN) that are admins; * for any verified client certificate." placeholder:"NAME" sep:","`
}

type memoryFlags struct {
	MaxUsers       int `help:"Memory store: user profiles kept (least recently used evicted)." default:"1000000"`
	MaxWindowKeys  int `help:"Memory store: attack-window keys kept for addresses, subnets, ASNs and tenants." default:"1000000"`
	MaxAccountKeys int `help:"Memory store: attack-window keys kept for accounts and password hashes, apart from the others so that fresh addresses cannot evict them." default:"1000000"`
	MaxPending     int `help:"Memory store: decisions awaiting their outcome." default:"500000"`
	MaxDistinct    int `help:"Memory store: members of one distinct count (usernames of an address, subnet or ASN; accounts of a password hash)." default:"1000"`
	MaxMembers     int `help:"Memory store: members of all distinct counts together; past it the least recently used window keys are evicted." default:"4000000"`
	MaxRetries     int `help:"Decisions remembered so that a retried attempt_id gets the same answer, with any store; 0: none." default:"50000"`
	MaxRetryBytes  int `help:"Bytes those remembered decisions may hold (a decision carries its attempt's strings)." default:"67108864"`
	UserAgents     int `help:"User agents whose classification is cached (each at most 512 bytes)." default:"4096"`
}

type shutdownFlags struct {
	Timeout time.Duration `help:"On SIGTERM or SIGINT, how long in-flight requests may take to finish before they are cut." default:"15s"`
	Delay   time.Duration `help:"On SIGTERM, keep serving (not ready) this long before draining, for load balancers to notice." default:"0s"`
}

type logFlags struct {
	Format string `help:"Log format: text or json." default:"text" enum:"text,json"`
	Level  string `help:"Log level: debug, info, warn or error." default:"info" enum:"debug,info,warn,error"`
}

// BeforeReset gives every serve flag its RISKGATE_ variable.
func (c *serveCmd) BeforeReset(ctx *kong.Context) error {
	setEnvNames(serveFlags(ctx.Selected()))
	return nil
}

// BeforeResolve reads the config file, if any, under the flags and the
// environment.
func (c *serveCmd) BeforeResolve(ctx *kong.Context) error {
	node := ctx.Selected()
	var path string
	for _, f := range node.Flags {
		if f.Name == "config" {
			path, _ = ctx.FlagValue(f).(string)
		}
	}
	if path == "" {
		return nil
	}
	cf, err := loadConfig(path, configKeys(node.Target, serveFlags(node)))
	if err != nil {
		return err
	}
	ctx.AddResolver(cf.resolver())
	return nil
}

func (c *serveCmd) Run(ctx context.Context) error {
	log := c.Log.logger()
	if c.GCPercent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(c.GCPercent)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	m, err := metrics.New(reg, metrics.Options{MaxTenants: c.Metrics.MaxTenants})
	if err != nil {
		return err
	}
	az, err := c.Auth.authenticator()
	if err != nil {
		return err
	}
	store, checks, err := c.openStore(ctx, reg, log)
	if err != nil {
		return err
	}
	b, err := c.build(ctx, store, !c.memoryStore(), log, func(o *engine.Options) {
		o.Observers = append(o.Observers, m)
		o.StoreTimeout = c.StoreTimeout
		o.MaxClockSkew = c.MaxClockSkew
		c.Memory.engineOptions(o)
		registerEnricherMetrics(reg, o.Enrichers)
	})
	if err != nil {
		store.Close(context.Background())
		return err
	}
	defer b.Close()
	registerBreachedMetrics(reg, c.live)
	debounce := c.RulesDebounce
	paths := c.Rules
	mgr, err := liverules.New(b.rules, liverules.Options{Paths: paths, Debounce: debounce, Observer: m, Logger: log, NoWatch: !c.RulesWatch})
	if err != nil {
		store.Close(context.Background())
		return err
	}
	srv, err := server.New(server.Config{
		HTTPAddr: c.HTTP.Addr, GRPCAddr: c.GRPC.Addr, MetricsAddr: c.Metrics.Addr,
		HTTPTLS: c.HTTP.TLS.config(), GRPCTLS: c.GRPC.TLS.config(), GRPCReflection: c.GRPC.Reflection, PprofAddr: c.PprofAddr,
		ShutdownTimeout: c.Shutdown.Timeout, ShutdownDelay: c.Shutdown.Delay,
	}, server.Deps{
		Engine: b.engine, Rules: mgr, Store: store, Auth: az, Metrics: m, Gatherer: reg, Checks: checks, Logger: log,
	})
	if err != nil {
		store.Close(context.Background())
		return err
	}
	c.logConfig(log, az)
	if err := srv.Listen(); err != nil {
		store.Close(context.Background())
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading rules and certificates")
				_ = srv.Reload() // failures are logged and counted
			}
		}
	}()
	return srv.Serve(ctx)
}

// memoryStore reports whether the state lives in this process (the
// default): its keys die with it, so a random HMAC secret will do.
func (c *serveCmd) memoryStore() bool { return c.Store == "" || c.Store == "memory" }

// openStore opens the state store and its readiness checks.
func (c *serveCmd) openStore(ctx context.Context, reg prometheus.Registerer, log *slog.Logger) (engine.Store, []server.Check, error) {
	if c.memoryStore() {
		return memstore.New(c.Memory.storeOptions()), nil, nil
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = 50 * time.Millisecond
	}
	rs, err := redisstore.New(ctx, redisstore.Options{URL: c.Store, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: %w", redisstore.Redact(c.Store), err)
	}
	registerRedisMetrics(reg, rs)
	ping := server.Check{Name: "store", Check: func(ctx context.Context) error { return rs.Client().Ping(ctx).Err() }}
	return rs, []server.Check{ping}, nil
}

func (t tlsFlags) config() server.TLS {
	return server.TLS{CertFile: t.Cert, KeyFile: t.Key, ClientCAFile: t.ClientCA, ClientAuth: t.ClientAuth}
}

// authenticator reads the tokens: from their files, else from the
// environment. They are never logged.
func (a authFlags) authenticator() (*auth.Authenticator, error) {
	admin, err := readSecret(a.AdminTokenFile, "RISKGATE_ADMIN_TOKEN")
	if err != nil {
		return nil, err
	}
	scoring, err := readSecret(a.ScoringTokenFile, "RISKGATE_SCORING_TOKEN")
	if err != nil {
		return nil, err
	}
	if admin != nil && scoring != nil && string(admin) == string(scoring) {
		return nil, errors.New("auth: the admin and scoring tokens must differ")
	}
	return auth.New(auth.Options{AdminToken: admin, ScoringToken: scoring, AdminCertNames: a.AdminCertNames}), nil
}

// minTokenLen keeps guessable tokens out: 16 bytes is 128 bits of base-16
// or more of anything else.
const minTokenLen = 16

func readSecret(file, env string) ([]byte, error) {
	var b []byte
	src := env
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		b, src = []byte(strings.TrimSpace(string(data))), file
	} else if v := os.Getenv(env); v != "" {
		b = []byte(strings.TrimSpace(v))
	}
	if b == nil {
		return nil, nil
	}
	if len(b) < minTokenLen {
		return nil, fmt.Errorf("auth: the token in %s is shorter than %d bytes", src, minTokenLen)
	}
	return b, nil
}

func (l logFlags) logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// logConfig logs the effective configuration, without secrets: tokens are
// only said to be set.
func (c *serveCmd) logConfig(log *slog.Logger, az *auth.Authenticator) {
	rules := "embedded"
	if len(c.Rules) > 0 {
		rules = strings.Join(c.Rules, ",")
	}
	log.Info("configuration",
		"config", c.Config, "store", redisstore.Redact(c.Store), "rules", rules, "rules_watch", c.RulesWatch,
		"http_tls", c.HTTP.TLS.Cert != "", "grpc_tls", c.GRPC.TLS.Cert != "",
		"admin_api", az.AdminEnabled(), "scoring_token_required", !az.ScoringOpen(),
		"shutdown_timeout", c.Shutdown.Timeout,
	)
	if !az.AdminEnabled() {
		log.Warn("admin API disabled (rules, profiles, erasure): set RISKGATE_ADMIN_TOKEN, --admin-token-file or --admin-cert-names")
	}
}
