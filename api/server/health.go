package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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

// checkLogEvery is how often, at most, a kind of failure of a readiness
// check is logged again while the check keeps failing.
const checkLogEvery = time.Minute

// checkKindsMax bounds the kinds of failure remembered for a check: a
// kind is made from an error's text, which may quote what a server sent.
const checkKindsMax = 16

// checkLog logs the readiness checks' failures: when a check starts to
// fail or fails for another reason (Redis's answer changed), then each
// kind of failure at most once per checkLogEvery while the check keeps
// failing (with the number of failures left out since), and once when it
// passes again.
// /readyz is public and runs the checks at every request: logging each
// failure let anyone with a loop (or a load balancer probing every
// second) write a warning a request while the store or the brokers were
// down. Failures are told apart by their kind (failureKind), not their
// text: an error that quotes a local port or a duration reads
// differently at every failure ("dial tcp 192.0.2.10:41234: i/o
// timeout"), and was logged at every request again.
type checkLog struct {
	mu      sync.Mutex
	failing map[string]*checkFailure // by check name
}

// checkFailure is a failing check's kinds of failure.
type checkFailure struct {
	kinds map[string]*failureKindLog
	// forgotten counts the failures left out and no longer in kinds: of
	// kinds beyond checkKindsMax, or forgotten to make room.
	forgotten int
}

type failureKindLog struct {
	logged     time.Time
	suppressed int // failures of the kind left out since it was logged
}

// failureKind is what the failures of one kind share: the error's text
// with each number (a run of digits and dots: a port, an address, a
// duration's value, a count) as "#", at most 200 bytes of it.
func failureKind(err error) string {
	msg := err.Error()
	var b strings.Builder
	for i := 0; i < len(msg) && b.Len() < 200; i++ {
		c := msg[i]
		if c < '0' || c > '9' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('#')
		for i+1 < len(msg) && (msg[i+1] == '.' || msg[i+1] >= '0' && msg[i+1] <= '9') {
			i++
		}
	}
	return b.String()
}

func (l *checkLog) failed(log *slog.Logger, c Check, err error, now time.Time) {
	kind := failureKind(err)
	l.mu.Lock()
	if l.failing == nil {
		l.failing = map[string]*checkFailure{}
	}
	f := l.failing[c.Name]
	if f == nil {
		f = &checkFailure{kinds: map[string]*failureKindLog{}}
		l.failing[c.Name] = f
	}
	k := f.kinds[kind]
	if k == nil && len(f.kinds) >= checkKindsMax {
		// Kinds not logged for a minute are forgotten: their failures
		// left out since are counted when the check passes again.
		for name, old := range f.kinds {
			if now.Sub(old.logged) >= checkLogEvery {
				f.forgotten += old.suppressed
				delete(f.kinds, name)
			}
		}
		if len(f.kinds) >= checkKindsMax {
			f.forgotten++
			l.mu.Unlock()
			return
		}
	}
	if k == nil {
		k = &failureKindLog{}
		f.kinds[kind] = k
	} else if now.Sub(k.logged) < checkLogEvery {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.logged, k.suppressed = now, 0
	l.mu.Unlock()
	if suppressed > 0 {
		log.Warn("health check failed", "check", c.Name, "optional", c.Optional, "err", err, "suppressed", suppressed)
		return
	}
	log.Warn("health check failed", "check", c.Name, "optional", c.Optional, "err", err)
}

func (l *checkLog) passed(log *slog.Logger, c Check) {
	l.mu.Lock()
	f, was := l.failing[c.Name]
	delete(l.failing, c.Name)
	l.mu.Unlock()
	if !was {
		return
	}
	suppressed := f.forgotten
	for _, k := range f.kinds {
		suppressed += k.suppressed
	}
	if suppressed > 0 {
		log.Info("health check passes again", "check", c.Name, "optional", c.Optional, "suppressed", suppressed)
		return
	}
	log.Info("health check passes again", "check", c.Name, "optional", c.Optional)
}
