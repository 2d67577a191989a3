package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/service"
)

// ops are the operational routes: liveness, readiness, metrics.
func (s *Server) ops() []httpapi.Route {
	metricsHandler := promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{
		ErrorLog:          slog2log{s},
		EnableOpenMetrics: true,
		// A scrape that waits on a busy server is worse than a failed one.
		Timeout: 10 * time.Second,
	})
	return []httpapi.Route{
		{Method: "GET", Path: "/healthz", Op: service.OpProbe, Handler: func(w http.ResponseWriter, r *http.Request) {
			writeStatus(w, http.StatusOK, map[string]any{"status": "ok"})
		}},
		{Method: "GET", Path: "/readyz", Op: service.OpProbe, Handler: s.readyz},
		// promhttp reads name[] (repeated: one metric family each) to
		// answer only those families.
		{Method: "GET", Path: "/metrics", Op: service.OpProbe, Handler: metricsHandler.ServeHTTP,
			Query: []httpapi.Param{{Name: "name[]", Repeated: true}}},
	}
}

type slog2log struct{ s *Server }

func (l slog2log) Println(v ...any) { l.s.log.Warn("metrics", "err", v) }

// ready runs the readiness checks: the rules are loaded, and every check
// that is not optional (a database is loaded) passes. Optional checks
// (the store) are reported, and their results returned in optional, but
// do not make the process unready. It never reports ready while shutting
// down.
func (s *Server) ready(ctx context.Context) (res map[string]string, ok bool, optional map[string]bool) {
	res, ok, optional = map[string]string{}, true, map[string]bool{}
	if s.shuttingDown.Load() {
		res["server"] = "shutting down"
		ok = false
	}
	if snap := s.deps.Service.Rules(); snap == nil {
		res["rules"] = "not loaded"
		ok = false
	} else {
		res["rules"] = "ok: " + snap.Set.Version()
		if s.deps.Service.RuleFilesRejected() {
			// Not unready either: the rules in force decide, and a
			// node taken out of service for an analyst's typo would
			// take every node with it.
			res["rules"] += "; the last reload of the rule files was rejected; the rules in force stay"
		}
		if n := len(snap.TenantFailures); n > 0 {
			// Not unready: every tenant is decided, by its last good
			// overlay or the shared rules. How many, not which: the
			// endpoint is public (the tenant's rules view and the log
			// name them).
			res["rules"] += fmt.Sprintf("; %d tenant overlay(s) rejected by the last reload; those tenants keep the rules they had", n)
		}
	}
	for _, c := range s.deps.Checks {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Check(cctx)
		cancel()
		if c.Optional {
			optional[c.Name] = err == nil
		}
		if err == nil {
			s.checkLog.passed(s.log, c)
			res[c.Name] = "ok"
			continue
		}
		// The endpoint is public: the detail (addresses, paths) goes to
		// the log, not to whoever asks.
		s.checkLog.failed(s.log, c, err, time.Now())
		res[c.Name] = "unavailable"
		if !c.Optional {
			ok = false
		}
	}
	return res, ok, optional
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks, ok, _ := s.ready(r.Context())
	status, word := http.StatusOK, "ready"
	if !ok {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	writeStatus(w, status, map[string]any{"status": word, "checks": checks})
}

// followReadiness keeps the gRPC health service in step with the readiness
// checks, and each optional check's own health service name with its
// check, until ctx is done.
func (s *Server) followReadiness(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReadyInterval)
	defer t.Stop()
	last := healthpb.HealthCheckResponse_UNKNOWN
	lastOptional := map[string]healthpb.HealthCheckResponse_ServingStatus{}
	for {
		if s.shuttingDown.Load() {
			return
		}
		st := healthpb.HealthCheckResponse_NOT_SERVING
		checks, ok, optional := s.ready(ctx)
		if ok {
			st = healthpb.HealthCheckResponse_SERVING
		} else if st != last {
			s.log.Warn("not ready", "checks", checks)
		}
		if s.shuttingDown.Load() {
			return
		}
		if st != last {
			for _, svc := range []string{"", pb.RiskService_ServiceDesc.ServiceName, pb.RulesService_ServiceDesc.ServiceName} {
				s.health.SetServingStatus(svc, st)
			}
			last = st
		}
		for _, c := range s.deps.Checks {
			if !c.Optional || c.HealthService == "" {
				continue
			}
			cst := healthpb.HealthCheckResponse_NOT_SERVING
			if optional[c.Name] {
				cst = healthpb.HealthCheckResponse_SERVING
			}
			if lastOptional[c.HealthService] != cst {
				s.health.SetServingStatus(c.HealthService, cst)
				lastOptional[c.HealthService] = cst
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func writeStatus(w http.ResponseWriter, status int, v map[string]any) {
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, status, v)
}

// checkLogEvery is how often, at most, a failing readiness check is
// logged again while it keeps failing.
const checkLogEvery = time.Minute

// checkLog logs the readiness checks' failures: when a check starts to
// fail or fails otherwise (Redis's answer changed), then at most once per
// checkLogEvery while it keeps failing so (with the number of failures
// left out since), and once when it passes again.
// /readyz is public and runs the checks at every request: logging each
// failure let anyone with a loop (or a load balancer probing every
// second) write a warning a request while the store or the brokers were
// down.
type checkLog struct {
	mu      sync.Mutex
	failing map[string]*checkFailure
}

type checkFailure struct {
	logged     time.Time
	err        string // the failure last logged
	suppressed int
}

func (l *checkLog) failed(log *slog.Logger, c Check, err error, now time.Time) {
	l.mu.Lock()
	if l.failing == nil {
		l.failing = map[string]*checkFailure{}
	}
	f := l.failing[c.Name]
	if f != nil && now.Sub(f.logged) < checkLogEvery && f.err == err.Error() {
		f.suppressed++
		l.mu.Unlock()
		return
	}
	if f == nil {
		f = &checkFailure{}
		l.failing[c.Name] = f
	}
	suppressed := f.suppressed
	f.suppressed, f.logged, f.err = 0, now, err.Error()
	l.mu.Unlock()
	if suppressed > 0 {
		log.Warn("health check failed", "check", c.Name, "optional", c.Optional, "err", err, "suppressed", suppressed)
		return
	}
	log.Warn("health check failed", "check", c.Name, "optional", c.Optional, "err", err)
}

func (l *checkLog) passed(log *slog.Logger, c Check) {
	l.mu.Lock()
	_, was := l.failing[c.Name]
	delete(l.failing, c.Name)
	l.mu.Unlock()
	if was {
		log.Info("health check passes again", "check", c.Name, "optional", c.Optional)
	}
}
