// Package server puts riskgate's service on its listeners: the gRPC and
// HTTP APIs over the service layer, metrics, health and readiness, TLS that
// reloads, and a graceful drain. It serves what it is given and closes
// nothing it did not open: package node assembles the service, runs the
// server and then closes the rest in order.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/riskgate/riskgate/api/auth"
	"github.com/riskgate/riskgate/api/grpcapi"
	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/metrics"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// Bounds of a connection. grpc-go's own are no bound at all (2^32
// concurrent streams, 16 MiB of headers a stream), and a gRPC stream waits
// for its request with its headers held and no deadline but the caller's:
// one connection opening streams that sent headers and nothing else held
// gigabytes. A client past GRPCMaxStreams has its next calls queued by its
// own gRPC library (the limit is announced in the HTTP/2 settings), as
// net/http's HTTP/2 does past its 250.
const (
	GRPCMaxStreams = 256
	MaxHeaderBytes = 64 << 10 // request headers, on every listener
)

// How long a gRPC connection lives. A connection without a call for
// grpcIdleTimeout is closed, as the HTTP listener closes an idle keep-alive
// connection: the clients' pings (api/client: every 10s) are no call, and
// the client reconnects at its next call. No connection outlives
// grpcMaxAge (gRPC adds ±10% of jitter) by more than grpcAgeGrace: the
// client is told to open another (GOAWAY), its calls still running get the
// grace to finish, then the connection is closed. That is what bounds a
// call that sent its headers and never its message: the handler waits for
// the message before any interceptor runs, with no deadline but the
// caller's, and a deadline of the server's own on each call would cost
// every Score a context and a timer; the age costs a reconnection every
// few minutes a connection. The grace outlasts a backtest
// (--capture-backtest-timeout, 2m by default), the one call that may run
// for minutes. Variables, not constants, for the tests.
//
// A connection has grpcHandshakeTimeout for its TLS handshake and HTTP/2
// preface, as an HTTP request has 5 s for its headers (ReadHeaderTimeout).
// grpc-go's default is 120 s, and both GracefulStop and Stop wait for
// every handshake in progress before they drain or close anything: one
// TCP connection that sent nothing held a node's shutdown for two
// minutes, far past --shutdown-timeout and a pod's grace period, and held
// a place of --max-connections as long.
var (
	grpcHandshakeTimeout = 5 * time.Second
	grpcIdleTimeout      = 2 * time.Minute
	grpcMaxAge           = 5 * time.Minute
	grpcAgeGrace         = 150 * time.Second
)

// Config is how the server listens and shuts down.
type Config struct {
	// HTTPAddr and GRPCAddr are the listeners; an empty address disables
	// one (not both). Port 0 picks a free port: see Addrs.
	HTTPAddr string
	GRPCAddr string
	// GRPCAdminAddr is the gRPC admin listener, for rules and backtests
	// larger than the API listener reads (GRPCMaxMessage); empty: none.
	// It needs GRPCAddr, whose TLS it shares.
	GRPCAdminAddr string
	// MetricsAddr serves /metrics, /healthz and /readyz apart from the
	// API, in plain HTTP; empty serves them on the HTTP listener.
	MetricsAddr string
	HTTPTLS     TLS
	GRPCTLS     TLS
	// PprofAddr serves net/http/pprof, for profiling in place; empty (the
	// default) serves nothing. Never expose it beyond loopback.
	PprofAddr string
	// GRPCReflection turns on the reflection service, so grpcurl needs no
	// .proto files.
	GRPCReflection bool
	// ShutdownTimeout bounds the drain on shutdown; requests still running
	// then are cut. Default 15s.
	ShutdownTimeout time.Duration
	// ShutdownDelay keeps serving, unready, this long before draining, so
	// that load balancers stop sending first. Default 0.
	ShutdownDelay time.Duration
	// ReadyInterval is how often the gRPC health status follows the
	// readiness checks. Default 5s.
	ReadyInterval time.Duration
	// MaxConnections bounds the connections the HTTP and the gRPC
	// listener each hold open at once: past it a new one is closed as
	// soon as it is accepted (limitListener). 0: no limit. The metrics
	// and pprof listeners are not limited, so that probes and scrapes
	// still reach a node under a connection flood.
	MaxConnections int
}

// Check is one readiness condition (a database loaded), or, when
// Optional, the health of a part the process answers without (the state
// store: decisions are made without state while it is down). The rules in
// force are always a readiness condition.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
	// Optional checks are reported in /readyz's checks and as their own
	// gRPC health service, HealthService, but never make the process
	// unready: taking every replica out of rotation in an outage of a
	// part it can do without would turn a degraded service into none.
	Optional      bool
	HealthService string
}

// Deps are what the server serves.
type Deps struct {
	Service  *service.Service
	Auth     *auth.Authenticator
	Metrics  *metrics.Metrics // may be nil
	Gatherer prometheus.Gatherer
	Checks   []Check // readiness, besides the rules in force
	// Routes are more HTTP routes to serve beside the API's (a web hook),
	// each with its service operation, authenticated and measured as the
	// API's are.
	Routes []httpapi.Route
	Logger *slog.Logger
}

// Addrs are the addresses the server listens on, after Listen.
type Addrs struct {
	HTTP, GRPC, GRPCAdmin, Metrics string
}

// Server is riskgate's service.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	api        *httpapi.API
	routes     []httpapi.Route
	opsRoutes  []httpapi.Route
	httpSrv    *http.Server
	metricsSrv *http.Server
	pprofSrv   *http.Server
	grpcSrv    *grpc.Server
	// grpcAdminSrv serves GRPCAdminAddr: the admin calls, with messages
	// up to GRPCAdminMaxMessage.
	grpcAdminSrv *grpc.Server
	health       *health.Server
	certs        []*certificate
	clientCAs    []listenerCAs

	httpLn, grpcLn, grpcAdminLn, metricsLn, pprofLn net.Listener
	shuttingDown                                    atomic.Bool
	// checkLog logs the readiness checks' failures without flooding.
	checkLog checkLog
}

// New builds the server; it does not listen yet.
func New(cfg Config, deps Deps) (*Server, error) {
	if cfg.HTTPAddr == "" && cfg.GRPCAddr == "" {
		return nil, errors.New("server: no listener: set the HTTP or the gRPC address")
	}
	if deps.Service == nil || deps.Auth == nil {
		return nil, errors.New("server: service and auth are required")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.ReadyInterval <= 0 {
		cfg.ReadyInterval = 5 * time.Second
	}
	if deps.Gatherer == nil {
		deps.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	var rec httpapi.Recorder
	var grec grpcapi.Recorder
	if deps.Metrics != nil {
		rec, grec = deps.Metrics, deps.Metrics
	}
	s.api = &httpapi.API{Service: deps.Service, Auth: deps.Auth, Metrics: rec, Log: s.log}
	s.opsRoutes = s.ops()

	protocols, alpn := httpProtocols()
	httpTLS, c, httpCAs, err := serverTLS(cfg.HTTPTLS, alpn)
	if err != nil {
		return nil, fmt.Errorf("server: http %w", err)
	}
	if c != nil {
		c.listener = "http"
		s.certs = append(s.certs, c)
	}
	if httpCAs != nil && cfg.HTTPAddr != "" {
		s.clientCAs = append(s.clientCAs, listenerCAs{"http", httpCAs})
	}
	if cfg.HTTPAddr != "" {
		s.routes = append(s.api.Routes(), deps.Routes...)
		if cfg.MetricsAddr == "" {
			s.routes = append(s.routes, s.opsRoutes...)
		}
		s.httpSrv = newHTTPServer(s.closeWhenShuttingDown(s.api.Mux(s.routes)), httpTLS, s.log)
		s.httpSrv.Protocols = protocols
		if httpCAs != nil {
			s.httpSrv.ConnState = httpCAs.conns.trackHTTP
		}
	}
	if cfg.MetricsAddr != "" {
		s.metricsSrv = newHTTPServer(s.closeWhenShuttingDown(s.api.Mux(s.opsRoutes)), nil, s.log)
	} else if cfg.HTTPAddr == "" {
		s.log.Warn("no HTTP listener and no metrics address: /metrics, /healthz and /readyz are not served (gRPC health is)")
	}
	if cfg.PprofAddr != "" {
		s.pprofSrv = newHTTPServer(pprofMux(), nil, s.log)
		s.pprofSrv.WriteTimeout = 0 // profiles take their time
	}

	grpcTLS, c, grpcCAs, err := serverTLS(cfg.GRPCTLS, []string{"h2"})
	if err != nil {
		return nil, fmt.Errorf("server: grpc %w", err)
	}
	if c != nil {
		c.listener = "grpc"
		s.certs = append(s.certs, c)
	}
	if grpcCAs != nil && cfg.GRPCAddr != "" {
		s.clientCAs = append(s.clientCAs, listenerCAs{"grpc", grpcCAs})
	}
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if cfg.GRPCAddr == "" && cfg.GRPCAdminAddr != "" {
		return nil, errors.New("server: a gRPC admin address without a gRPC address")
	}
	var creds grpc.ServerOption
	switch {
	case grpcCAs != nil:
		creds = grpc.Creds(trackingCreds{credentials.NewTLS(grpcTLS), &grpcCAs.conns})
	case grpcTLS != nil:
		creds = grpc.Creds(credentials.NewTLS(grpcTLS))
	}
	if cfg.GRPCAddr != "" {
		ic := &grpcapi.Interceptors{Auth: deps.Auth, Metrics: grec, Log: s.log}
		s.grpcSrv = s.newGRPC(ic, GRPCMaxMessage, creds)
		healthpb.RegisterHealthServer(s.grpcSrv, s.health)
		if cfg.GRPCReflection {
			reflection.Register(s.grpcSrv)
		}
		ic.Registered(s.grpcSrv)
	}
	if cfg.GRPCAdminAddr != "" {
		// No health or reflection there: the probes, grpcurl's
		// listings and the identity servers are the API listener's.
		ic := &grpcapi.Interceptors{Auth: deps.Auth, Metrics: grec, Log: s.log, AdminOnly: true}
		s.grpcAdminSrv = s.newGRPC(ic, GRPCAdminMaxMessage, creds)
		ic.Registered(s.grpcAdminSrv)
	}
	if deps.Metrics != nil {
		s.knownSeries(deps.Metrics)
	}
	return s, nil
}

// How large a gRPC message each listener reads. grpc-go reads a call's
// message whole, up to the server's one limit, before any interceptor
// can look at the call, and its limit is the server's, not a method's:
// with one server sized for a ruleset Put (4 MiB), a caller that may
// score (anyone, where scoring is open) made the node read and hold 4 MiB
// a Score, on each of a connection's GRPCMaxStreams streams, before the
// codec refused it as larger than 64 KiB. A limit checked after the read
// bounds nothing; grpc-go checks its own from the message's length
// prefix before it reads the message. So the API listener is a server
// whose limit is a Score's (wire.MaxMessage, as the HTTP API's), where
// admin calls work as long as their messages fit; rules and backtests
// larger than that go to the admin listener (--grpc-admin-addr), a
// second server with the ruleset's limit that serves only admin and
// tenant admin calls (Interceptors.AdminOnly: refused as their headers
// arrive, before their message), or to the HTTP API, which limits each
// route's body as it reads it, after its credentials.
const (
	GRPCMaxMessage      = wire.MaxMessage
	GRPCAdminMaxMessage = httpapi.MaxRulesBody
)

// newGRPC is a gRPC server of riskgate's services, with ic, reading
// messages of up to maxMessage bytes. Register any other service, then
// call ic.Registered.
func (s *Server) newGRPC(ic *grpcapi.Interceptors, maxMessage int, creds grpc.ServerOption) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ic.Unary),
		grpc.ChainStreamInterceptor(ic.Stream),
		// Credentials checked as a call's headers arrive, before its
		// message (up to MaxRecvMsgSize) is read.
		grpc.InTapHandle(ic.Tap),
		// Calls of a method not served are counted (method
		// "unmatched"), then answered Unimplemented as before.
		grpc.UnknownServiceHandler(ic.Unknown),
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxConcurrentStreams(GRPCMaxStreams),
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		// A fixed pool of stream workers instead of a goroutine per
		// call: Score's stack is deep enough that a fresh goroutine
		// grows its stack on every call, which cost ~10% of the CPU
		// of a call in profiles (runtime.copystack).
		grpc.NumStreamWorkers(uint32(16 * runtime.GOMAXPROCS(0))),
		// Generated marshalling for riskgate's messages, and Score's
		// answers from a pool (grpcapi.RegisterRisk).
		grpc.ForceServerCodecV2(grpcapi.Codec()),
		// Clients ping an idle connection to find a replica that froze
		// (api/client: every 10s); gRPC's default policy takes a ping
		// more often than every 5 minutes, or one without a call in
		// flight, for abuse, and closes the connection.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ConnectionTimeout(grpcHandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: grpcIdleTimeout, MaxConnectionAge: grpcMaxAge, MaxConnectionAgeGrace: grpcAgeGrace,
		}),
	}
	if creds != nil {
		opts = append(opts, creds)
	}
	srv := grpc.NewServer(opts...)
	grpcapi.RegisterRisk(srv, &grpcapi.Risk{Service: s.deps.Service, Log: s.log})
	grpcapi.RegisterRules(srv, &grpcapi.Rules{Service: s.deps.Service, Log: s.log})
	return srv
}

// knownSeries creates the request metrics' series of every route and
// unary gRPC method served, at 0 (metrics.KnownRoutes): the alerts on
// server errors and refused credentials read them with rate(), which
// counts nothing of a series' first sample. The streaming methods
// (health watches, reflection) are not measured.
func (s *Server) knownSeries(m *metrics.Metrics) {
	var patterns []string
	for _, r := range s.Routes() {
		patterns = append(patterns, r.Pattern())
	}
	m.KnownRoutes(patterns...)
	if s.grpcSrv == nil {
		return
	}
	var methods []string
	for svc, info := range s.grpcSrv.GetServiceInfo() {
		for _, md := range info.Methods {
			if !md.IsClientStream && !md.IsServerStream {
				methods = append(methods, "/"+svc+"/"+md.Name)
			}
		}
	}
	m.KnownMethods(methods...)
}

// closeWhenShuttingDown answers with Connection: close once shutdown has
// begun (HTTP/2: the connection goes away after the answer): a client
// keeping connections alive drops the one it used through
// --shutdown-delay, instead of sending its next request on it as the
// drain closes it, a request a POST client may not retry.
func (s *Server) closeWhenShuttingDown(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.shuttingDown.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

func newHTTPServer(h http.Handler, cfg *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:   h,
		TLSConfig: cfg,
		// Slow clients must not hold connections open: headers in 5s,
		// a whole (small) request in 30s.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          newErrorLog(log),
	}
}

// Routes are every route the HTTP listener serves, then those of the
// metrics listener when it is apart.
func (s *Server) Routes() []httpapi.Route {
	if s.cfg.MetricsAddr != "" {
		return append(append([]httpapi.Route(nil), s.routes...), s.opsRoutes...)
	}
	return s.routes
}

// GRPCMethods are the full names of every method the gRPC listener serves,
// of every registered service (riskgate's, health, reflection).
func (s *Server) GRPCMethods() []string {
	if s.grpcSrv == nil {
		return nil
	}
	var out []string
	for name, info := range s.grpcSrv.GetServiceInfo() {
		for _, m := range info.Methods {
			out = append(out, "/"+name+"/"+m.Name)
		}
	}
	return out
}

// Listen binds the listeners.
func (s *Server) Listen() error {
	var err error
	if s.httpSrv != nil {
		if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
			return fmt.Errorf("server: http: %w", err)
		}
		s.httpLn = limitConns(s.httpLn, "http", s.cfg.MaxConnections, s.log)
	}
	if s.grpcSrv != nil {
		if s.grpcLn, err = net.Listen("tcp", s.cfg.GRPCAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: grpc: %w", err)
		}
		s.grpcLn = limitConns(s.grpcLn, "grpc", s.cfg.MaxConnections, s.log)
	}
	if s.grpcAdminSrv != nil {
		if s.grpcAdminLn, err = net.Listen("tcp", s.cfg.GRPCAdminAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: grpc admin: %w", err)
		}
		s.grpcAdminLn = limitConns(s.grpcAdminLn, "grpc-admin", s.cfg.MaxConnections, s.log)
	}
	if s.metricsSrv != nil {
		if s.metricsLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: metrics: %w", err)
		}
	}
	if s.pprofSrv != nil {
		if s.pprofLn, err = net.Listen("tcp", s.cfg.PprofAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: pprof: %w", err)
		}
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.httpLn, s.grpcLn, s.grpcAdminLn, s.metricsLn, s.pprofLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// Addrs returns the bound addresses (empty for a listener that is off).
func (s *Server) Addrs() Addrs {
	var a Addrs
	if s.httpLn != nil {
		a.HTTP = s.httpLn.Addr().String()
	}
	if s.grpcLn != nil {
		a.GRPC = s.grpcLn.Addr().String()
	}
	if s.grpcAdminLn != nil {
		a.GRPCAdmin = s.grpcAdminLn.Addr().String()
	}
	if s.metricsLn != nil {
		a.Metrics = s.metricsLn.Addr().String()
	}
	return a
}

// Run listens and serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Serve serves on the bound listeners until ctx is done, then drains
// in-flight requests within the shutdown timeout and returns. It returns
// an error if a listener failed or if the drain had to cut requests.
func (s *Server) Serve(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	errc := make(chan error, 6)
	var wg sync.WaitGroup
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("server: %s: %w", name, err)
			}
		}()
	}
	if s.httpSrv != nil {
		serve("http", func() error {
			if s.httpSrv.TLSConfig != nil {
				return s.httpSrv.ServeTLS(s.httpLn, "", "")
			}
			return s.httpSrv.Serve(s.httpLn)
		})
	}
	if s.grpcSrv != nil {
		serve("grpc", func() error { return s.grpcSrv.Serve(s.grpcLn) })
	}
	if s.grpcAdminSrv != nil {
		serve("grpc admin", func() error { return s.grpcAdminSrv.Serve(s.grpcAdminLn) })
	}
	if s.metricsSrv != nil {
		serve("metrics", func() error { return s.metricsSrv.Serve(s.metricsLn) })
	}
	if s.pprofSrv != nil {
		serve("pprof", func() error { return s.pprofSrv.Serve(s.pprofLn) })
	}
	go s.followReadiness(bg)
	s.logListening()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		s.log.Error("listener failed; shutting down", "err", serveErr)
	}
	err := s.shutdown()
	stopBG()
	if err == nil {
		// A drain cut at its deadline is not waited for past it: grpc-go's
		// Serve returns only once its Stop has waited out the handshakes
		// in progress (shutdown).
		wg.Wait()
	}
	return errors.Join(serveErr, err)
}

func (s *Server) logListening() {
	a := s.Addrs()
	attrs := []any{}
	if a.HTTP != "" {
		scheme := "http"
		if s.cfg.HTTPTLS.Enabled() {
			scheme = "https"
		}
		attrs = append(attrs, "http", scheme+"://"+a.HTTP)
	}
	if a.GRPC != "" {
		attrs = append(attrs, "grpc", a.GRPC, "grpc_tls", s.cfg.GRPCTLS.Enabled())
	}
	if a.GRPCAdmin != "" {
		attrs = append(attrs, "grpc_admin", a.GRPCAdmin)
	}
	if s.pprofLn != nil {
		defer s.log.Warn("pprof served", "addr", "http://"+s.pprofLn.Addr().String()+"/debug/pprof/")
	}
	if a.Metrics != "" {
		attrs = append(attrs, "metrics", "http://"+a.Metrics+"/metrics")
	} else if a.HTTP != "" {
		attrs = append(attrs, "metrics", "(on the http listener) /metrics")
	}
	s.log.Info("riskgate listening", attrs...)
}

// shutdown drains the listeners, within the shutdown timeout.
func (s *Server) shutdown() error {
	s.shuttingDown.Store(true)
	s.health.Shutdown() // every service NOT_SERVING
	s.log.Info("shutting down", "delay", s.cfg.ShutdownDelay, "timeout", s.cfg.ShutdownTimeout)
	if s.cfg.ShutdownDelay > 0 {
		time.Sleep(s.cfg.ShutdownDelay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	add := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for name, hs := range map[string]*http.Server{"http": s.httpSrv, "metrics": s.metricsSrv, "pprof": s.pprofSrv} {
		if hs == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Shutdown(ctx); err != nil {
				hs.Close()
				add(fmt.Errorf("server: %s drain: %w", name, err))
			}
		}()
	}
	for name, gs := range map[string]*grpc.Server{"grpc": s.grpcSrv, "grpc admin": s.grpcAdminSrv} {
		if gs == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() { gs.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				// Stop, like GracefulStop, waits out the handshakes in
				// progress (grpcHandshakeTimeout) before it closes the
				// connections: not past the deadline. The process exits,
				// which closes them.
				go gs.Stop()
				add(fmt.Errorf("server: %s drain: %w", name, ctx.Err()))
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		s.log.Error("drain incomplete", "err", errors.Join(errs...))
	} else {
		s.log.Info("listeners drained")
	}
	return errors.Join(errs...)
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// TLSFiles are the client CA files of the listeners served
// (http-client-ca, grpc-client-ca). Each handshake verifies client
// certificates against the file's contents in force: re-reading them
// (SIGHUP) is their owner's, see tlsfiles. The listeners' key pairs are
// ReloadCertificates'.
func (s *Server) TLSFiles() []tlsfiles.Use {
	var out []tlsfiles.Use
	for _, l := range s.clientCAs {
		out = append(out, tlsfiles.Use{Use: l.listener + "-client-ca", File: l.cas.cas})
	}
	return out
}

// listenerCAs is a served listener's client CA file.
type listenerCAs struct {
	listener string // http or grpc
	cas      *clientCAs
}

// CutUntrustedClients closes the open connections of clients whose
// certificate no longer chains to a CA of their listener's client CA file
// as it was last re-read (TLSFiles), and returns how many it closed, by
// listener (http, grpc). A listener whose file did not change since the
// last call is not looked at; a certificate that expired while its
// connection was open does not count (it was valid at the handshake). Call it after re-reading the files: a
// connection is otherwise checked only at its handshake, and an HTTP
// client that calls often keeps its connection for good.
func (s *Server) CutUntrustedClients() map[string]int {
	out := map[string]int{}
	for _, l := range s.clientCAs {
		out[l.listener] += l.cas.conns.cutUntrusted()
	}
	return out
}

// CertificateFiles are the listeners' certificate and key files, which
// ReloadCertificates reads.
func (s *Server) CertificateFiles() []string {
	var out []string
	for _, c := range s.certs {
		out = append(out, c.Paths()...)
	}
	return out
}

// FailingCertificates lists the certificate files of the listeners' key
// pairs whose last reload failed, none succeeding since.
func (s *Server) FailingCertificates() []string {
	var out []string
	for _, c := range s.certs {
		if c.Failing() {
			out = append(out, c.Path())
		}
	}
	return out
}

// ReloadCertificates reloads the listeners' key pairs (SIGHUP); a
// certificate that fails to load keeps the previous one.
func (s *Server) ReloadCertificates() error { return s.ReloadCertificatesOf("") }

// ReloadCertificatesOf reloads the listeners' key pairs that read path
// (their certificate or key file), or all of them for "": a listener's
// renewal is not held back, nor retried, for another listener's broken
// files.
func (s *Server) ReloadCertificatesOf(path string) error {
	var errs []error
	for _, c := range s.certs {
		if path != "" && !slices.Contains(c.Paths(), path) {
			continue
		}
		refused := c.Failing()
		changed, err := c.Reload()
		switch {
		case err != nil:
			s.log.Error("tls certificate reload failed; the previous one stays", "listener", c.listener, "cert", c.Path(), "err", err)
			errs = append(errs, fmt.Errorf("tls: %w", err))
		case changed:
			s.log.Info("tls certificate reloaded", "listener", c.listener, "cert", c.Path(), "useful_until", c.UsefulUntil())
		case refused:
			// Its files back as they were loaded (put back after a bad
			// copy or a deletion): the failure logged before is over.
			s.log.Info("tls certificate no longer refused; the one in use is unchanged", "listener", c.listener, "cert", c.Path())
		}
	}
	return errors.Join(errs...)
}
