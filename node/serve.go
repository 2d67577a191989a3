package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/auth"
	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/engine/redisstore"
	"github.com/riskgate/riskgate/rules"
)

// minTokenLen keeps guessable tokens out: 16 bytes is 128 bits of base-16
// or more of anything else.
const minTokenLen = 16

// newServer builds the node's server from the config: its listeners, TLS,
// authentication, the service's routes and methods and those added with
// WithRoutes, readiness, and metrics when the node keeps them.
func (n *Node) newServer() (*server.Server, error) {
	az, err := n.authenticator()
	if err != nil {
		return nil, err
	}
	var routes []httpapi.Route
	for _, r := range n.set.routes {
		routes = append(routes, r(n.service)...)
	}
	var gatherer prometheus.Gatherer
	if n.set.reg != nil {
		gatherer = n.set.reg
	}
	c := &n.cfg
	srv, err := server.New(server.Config{
		HTTPAddr: c.HTTP.Addr, GRPCAddr: c.GRPC.Addr, GRPCAdminAddr: c.GRPC.AdminAddr, MetricsAddr: c.Metrics.Addr,
		HTTPTLS: c.HTTP.TLS.server(), GRPCTLS: c.GRPC.TLS.server(), GRPCReflection: c.GRPC.Reflection, PprofAddr: c.PprofAddr,
		ShutdownTimeout: c.Shutdown.Timeout, ShutdownDelay: c.Shutdown.Delay, MaxConnections: c.maxConnections(),
	}, server.Deps{
		Service: n.service, Auth: az, Metrics: n.metrics, Gatherer: gatherer,
		Checks: append(n.checks, n.set.checks...), Routes: routes, Logger: n.log,
	})
	if err != nil {
		return nil, err
	}
	n.logConfig(az)
	return srv, nil
}

// Listen builds the node's server and binds its listeners (a port of 0
// picks a free one: see the server's Addrs). Serve listens itself when
// Listen was not called.
func (n *Node) Listen() (*server.Server, error) {
	if n.srv != nil {
		return n.srv, nil
	}
	srv, err := n.newServer()
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	n.collect(srv.CertificateCollector())
	n.collect(srv.ConnectionCollector())
	n.addTLSFiles(srv.TLSFiles())
	n.srv = srv
	return srv, nil
}

// Start listens and serves in the background until ctx is done (for
// tests and embedding). It returns the bound addresses and a wait func
// that returns Serve's result once it has shut down.
func (n *Node) Start(ctx context.Context) (server.Addrs, func() error, error) {
	srv, err := n.Listen()
	if err != nil {
		return server.Addrs{}, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, nil) }()
	var once sync.Once
	var res error
	return srv.Addrs(), func() error { once.Do(func() { res = <-done }); return res }, nil
}

// Serve serves the node until ctx is done: it listens, watches the rule
// files (unless told not to), runs the runners, and reloads rules,
// certificates and data files on each value received from reload (SIGHUP;
// nil: never).
// Then, in order: the listeners and runners drain, and Close flushes and
// closes the observers, the store and the rest. It returns an error if a
// listener or runner failed, the drain had to cut requests, or something
// did not close.
func (n *Node) Serve(ctx context.Context, reload <-chan os.Signal) error {
	if n.cfg.GCPercent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(n.cfg.GCPercent)
	}
	n.cfg.warnSettingsOff(n.log)
	srv, err := n.Listen()
	if err != nil {
		_ = n.Close(context.Background())
		return err
	}
	// The runners and the listeners share one lifetime: ctx's, or until
	// one of them fails.
	live, stop := context.WithCancel(ctx)
	defer stop()
	var bg sync.WaitGroup
	if n.cfg.RulesWatch {
		bg.Go(func() {
			if err := n.rules.Watch(live); err != nil {
				// Reload by SIGHUP and the API still work.
				n.log.Error("rule files are not watched", "err", err)
			}
		})
	}
	if n.cfg.TLSWatch {
		n.tlsWatch = n.watchTLSFiles(srv)
	}
	bg.Go(func() {
		for {
			select {
			case <-live.Done():
				return
			case <-reload:
				n.log.Info("SIGHUP: reloading rules, certificates and data files")
				// Failures are logged and counted by each part: the
				// rules, the certificates, the alert file, each data file.
				_ = n.reload(srv)
				_ = n.reloadData()
				// Last: it waits for TLS handshakes in progress.
				n.tlsReloadMu.Lock()
				n.cutUntrustedClients(srv)
				n.tlsReloadMu.Unlock()
			}
		}
	})
	// fatal is what stopped the node from within, if anything did; its
	// goroutine ends as soon as the node stops.
	fatal := make(chan error, 1)
	go func() {
		select {
		case <-live.Done():
			fatal <- nil
		case err := <-n.fatal:
			n.log.Error("shutting down", "err", err)
			stop()
			fatal <- err
		}
	}()
	// When the runners were told to stop: their shutdown budget starts.
	var stoppedAt time.Time
	stopped := make(chan struct{})
	context.AfterFunc(live, func() {
		stoppedAt = time.Now()
		close(stopped)
	})
	runErrs := make([]error, len(n.set.runners)) // runErrs[i] once runDone[i] is closed
	runDone := make([]chan struct{}, len(n.set.runners))
	for i, r := range n.set.runners {
		runDone[i] = make(chan struct{})
		go func() {
			defer close(runDone[i])
			err := r.Run(live, n.service)
			switch {
			case err == nil:
			case live.Err() == nil:
				runErrs[i] = fmt.Errorf("%s: %w", r.Name(), err)
				n.log.Error("runner failed; shutting down", "runner", r.Name(), "err", err)
				stop()
			case errors.Is(err, stream.ErrUndrained):
				// Nothing is lost (the messages are delivered again), but
				// the shutdown did not finish its work: exit status 1.
				runErrs[i] = fmt.Errorf("%s: %w", r.Name(), err)
			}
		}()
	}
	serveErr := srv.Serve(live)
	stop()
	if n.tlsWatch != nil {
		_ = n.tlsWatch.Close()
	}
	timeout := n.cfg.Shutdown.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	<-stopped
	runErrs = n.waitRunners(runDone, runErrs, stoppedAt.Add(n.runnerBudget(timeout)+runnerGrace))
	cctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// A reload stuck on a file that does not answer must not keep the
	// process from exiting: wait for the rule watch and SIGHUP reloads no
	// longer than the shutdown timeout.
	bgErr := within(cctx, "reload and rule watch", func() error { bg.Wait(); return nil })
	// Everything that produced decisions has stopped: flush and close.
	err = errors.Join(serveErr, errors.Join(runErrs...), <-fatal, bgErr, n.Close(cctx))
	if err != nil {
		n.log.Error("shutdown incomplete", "err", err)
	} else {
		n.log.Info("shutdown complete")
	}
	return err
}

// runnerGrace is how long past its shutdown budget a runner may take to
// return (abandoning what it could not finish takes a moment) before the
// node stops waiting for it.
const runnerGrace = time.Second

// runnerBudget is how long after they are told to stop the runners may
// take: the listeners' drain (--shutdown-delay and --shutdown-timeout)
// or the stream's own budget, whichever is longer.
func (n *Node) runnerBudget(timeout time.Duration) time.Duration {
	budget := max(n.cfg.Shutdown.Delay, 0) + timeout
	if n.cfg.Kafka.Enabled() {
		budget = max(budget, n.cfg.Kafka.ShutdownTimeout)
	}
	return budget
}

// waitRunners waits for the runners until deadline; errs[i] is runner
// i's error once done[i] is closed. A runner still running then (one that
// does not keep its budget: a write the brokers hold, waited for) is left
// behind, its error saying so, so that the shutdown keeps its bound.
func (n *Node) waitRunners(done []chan struct{}, errs []error, deadline time.Time) []error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	out := make([]error, len(done))
	expired := false
	for i, d := range done {
		if !expired {
			select {
			case <-d:
				out[i] = errs[i]
				continue
			case <-t.C:
				expired = true
			}
		}
		select {
		case <-d:
			out[i] = errs[i]
			continue
		default:
		}
		r := n.set.runners[i]
		err := fmt.Errorf("%s: not stopped within the shutdown timeout; left behind", r.Name())
		if u, ok := r.(undrainer); ok {
			// Read while it runs: its count of abandoned messages.
			if uerr := u.Undrained(); uerr != nil {
				err = fmt.Errorf("%w; %w", err, uerr)
			}
		}
		n.log.Error("runner did not stop within the shutdown timeout; left behind", "runner", r.Name())
		out[i] = err
	}
	return out
}

// undrainer is a runner that says, while it runs, how much its shutdown
// has left undone (the stream's Runner: messages fetched and not
// committed), for one left behind; one that returns says it from Run.
type undrainer interface{ Undrained() error }

// reload is SIGHUP's part besides the data files: the rule files, the TLS
// certificates and files and the alert files (reopened, for logrotate).
// Each part logs and counts its own failures.
func (n *Node) reload(srv *server.Server) error {
	_, err := n.rules.Reload(rules.TriggerSignal)
	n.tlsReloadMu.Lock()
	before := n.failingTLSFiles(srv)
	err = errors.Join(err, srv.ReloadCertificates(), n.reloadTLSFiles())
	n.tellTLSWatch(srv, before)
	n.tlsReloadMu.Unlock()
	if n.dispatcher != nil {
		err = errors.Join(err, n.dispatcher.Reopen())
	}
	return err
}

// authenticator reads the API's tokens: from their files, else from the
// environment. They are never logged.
func (n *Node) authenticator() (*auth.Authenticator, error) {
	a := n.cfg.Auth
	admin, err := readSecret("--admin-token-file", a.AdminTokenFile, "RISKGATE_ADMIN_TOKEN", minTokenLen)
	if err != nil {
		return nil, err
	}
	scoring, err := readSecret("--scoring-token-file", a.ScoringTokenFile, "RISKGATE_SCORING_TOKEN", minTokenLen)
	if err != nil {
		return nil, err
	}
	if admin != nil && scoring != nil && string(admin) == string(scoring) {
		return nil, errors.New("auth: the admin and scoring tokens must differ")
	}
	tenants, err := readTenantTokens(a.TenantAdminTokensFile, admin, scoring)
	if err != nil {
		return nil, err
	}
	return auth.New(auth.Options{AdminToken: admin, ScoringToken: scoring, AdminCertNames: a.AdminCertNames, TenantAdminTokens: tenants}), nil
}

// logConfig logs the effective configuration, without secrets: tokens are
// only said to be set.
func (n *Node) logConfig(az *auth.Authenticator) {
	c := &n.cfg
	rulesFrom := "embedded"
	if len(c.Rules) > 0 {
		rulesFrom = strings.Join(c.Rules, ",")
	}
	n.log.Info("configuration",
		"store", redisstore.Redact(c.Store), "rules", rulesFrom, "rules_watch", c.RulesWatch,
		"http_tls", c.HTTP.TLS.Cert != "", "grpc_tls", c.GRPC.TLS.Cert != "", "tls_watch", c.TLSWatch,
		"rules_tenants", c.RulesTenants, "tenant_admin_tokens", az.TenantsEnabled(),
		"admin_api", az.AdminEnabled(), "scoring_token_required", !az.ScoringOpen(),
		"shutdown_timeout", c.Shutdown.Timeout,
		"kafka", c.Kafka.Enabled(), "alert_sinks", alertSinkNames(c),
	)
	if !az.AdminEnabled() {
		n.log.Warn("admin API disabled (rules, profiles, erasure): set RISKGATE_ADMIN_TOKEN, --admin-token-file or --admin-cert-names")
	}
}
