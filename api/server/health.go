package server

import (
	"context"
	"net/http"
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
		{Method: "GET", Path: "/metrics", Op: service.OpProbe, Handler: metricsHandler.ServeHTTP},
	}
}

type slog2log struct{ s *Server }

func (l slog2log) Println(v ...any) { l.s.log.Warn("metrics", "err", v) }

// ready runs the readiness checks: the rules are loaded, and every check
// (the store answers, a database is loaded) passes. It never reports ready
// while shutting down.
func (s *Server) ready(ctx context.Context) (map[string]string, bool) {
	res := map[string]string{}
	ok := true
	set := func(name string, err error) {
		if err != nil {
			// The endpoint is public: the detail (addresses, paths) goes to
			// the log, not to whoever asks.
			s.log.Warn("readiness check failed", "check", name, "err", err)
			res[name] = "unavailable"
			ok = false
		} else {
			res[name] = "ok"
		}
	}
	if s.shuttingDown.Load() {
		res["server"] = "shutting down"
		ok = false
	}
	if snap := s.deps.Service.Rules(); snap == nil {
		res["rules"] = "not loaded"
		ok = false
	} else {
		res["rules"] = "ok: " + snap.Set.Version()
	}
	for _, c := range s.deps.Checks {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		set(c.Name, c.Check(cctx))
		cancel()
	}
	return res, ok
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks, ok := s.ready(r.Context())
	status, word := http.StatusOK, "ready"
	if !ok {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	writeStatus(w, status, map[string]any{"status": word, "checks": checks})
}

// followReadiness keeps the gRPC health service in step with the readiness
// checks, until ctx is done.
func (s *Server) followReadiness(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReadyInterval)
	defer t.Stop()
	last := healthpb.HealthCheckResponse_UNKNOWN
	lastSvc := make([]healthpb.HealthCheckResponse_ServingStatus, len(s.deps.Services))
	for {
		if s.shuttingDown.Load() {
			return
		}
		for i, c := range s.deps.Services {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			st := healthpb.HealthCheckResponse_SERVING
			if err := c.Check(cctx); err != nil {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
			cancel()
			if st != lastSvc[i] && !s.shuttingDown.Load() {
				s.health.SetServingStatus(c.Name, st)
				lastSvc[i] = st
			}
		}
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if checks, ok := s.ready(ctx); ok {
			st = healthpb.HealthCheckResponse_SERVING
		} else if st != last {
			s.log.Warn("not ready", "checks", checks)
		}
		if st != last && !s.shuttingDown.Load() {
			for _, svc := range []string{"", pb.RiskService_ServiceDesc.ServiceName, pb.RulesService_ServiceDesc.ServiceName} {
				s.health.SetServingStatus(svc, st)
			}
			last = st
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
