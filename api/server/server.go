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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/riskgate/riskgate/api/auth"
	"github.com/riskgate/riskgate/api/grpcapi"
	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/metrics"
	"github.com/riskgate/riskgate/api/service"
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
