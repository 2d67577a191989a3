// Package httpapi is riskgate's HTTP/JSON API: the same operations of the
// service layer (api/service) as the gRPC services, on net/http's pattern
// mux, each route authenticated for its operation's level, with JSON bodies decoded
// strictly (unknown fields and trailing data are errors), bounded in size,
// query parameters held to those each route takes (Route.Query), and JSON
// errors that name the offending field or parameter:
//
//	{"error": {"code": "invalid_argument", "message": "ip: required", "field": "ip"}}
//
// api/openapi.yaml describes every route; a test keeps the two in step.
package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/riskgate/riskgate/api/auth"
	"github.com/riskgate/riskgate/api/service"
)

// Body size limits. An attempt at its field limits is about 12 KiB of JSON;
// a ruleset is at most rules.MaxFiles files of rules.MaxFileSize, but
// real ones are kilobytes.
const (
	MaxAttemptBody = 64 << 10
	MaxRulesBody   = 4 << 20
)

// Recorder measures requests; package metrics implements it. A request
// refused on its credentials, before its body is read, is recorded with
// a negative took (metrics.Untimed): counted, not timed.
type Recorder interface {
	HTTP(route string, code int, took time.Duration)
}

// untimed is metrics.Untimed, which this package does not import.
const untimed time.Duration = -1

// Route is one method and path pattern the API serves, and the service
// operation it performs: the operation's level is what a caller needs.
type Route struct {
	Method  string
	Path    string
	Op      service.Op
	Handler http.HandlerFunc
	// Query are the query parameters the route takes (none when empty).
	// Any other, one of them given twice (unless Repeated), or a query
	// that does not parse, is a 400 naming it before the handler runs:
	// a misspelt ?before_pasword=1 was ignored, and the caller left with
	// the pending decision it meant to avoid. A hook's route (an Op of
	// level auth.Hook) is not checked: its handler refuses a query
	// itself, in its caller's format, as it checks its own credential;
	// it answers the methods its path does not take too (405, with the
	// Allow header the mux set).
	Query []Param
}

// Param is a query parameter of a route.
type Param struct {
	Name string
	// Repeated admits the parameter more than once (/metrics' name[]):
	// any other given twice is refused, since only one would be read.
	Repeated bool
}

// Pattern is the route's net/http pattern.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// API holds the handlers' dependencies.
type API struct {
	Service *service.Service
	Auth    *auth.Authenticator
	Metrics Recorder // may be nil
	Log     *slog.Logger
}

// Routes are the API's routes.
func (a *API) Routes() []Route {
	var (
		score = []Param{{Name: "omit_signals"}, {Name: "before_password"}}
		// The file name of a single YAML file sent as the body (readRules).
		yamlName = []Param{{Name: "name"}}
		backtest = []Param{{Name: "format"}, {Name: "name"}}
	)
	return []Route{
		{"POST", "/v1/score", service.OpScore, a.score, score},
		{"POST", "/v1/outcome", service.OpReport, a.outcome, nil},
		{"GET", "/v1/users/{tenant}/{user}", service.OpProfile, a.getProfile, nil},
		{"DELETE", "/v1/users/{tenant}/{user}", service.OpForget, a.forget, nil},
		{"GET", "/v1/rules", service.OpRulesGet, a.getRules, nil},
		{"PUT", "/v1/rules", service.OpRulesPut, a.putRules, yamlName},
		{"POST", "/v1/rules:validate", service.OpRulesValidate, a.validateRules, yamlName},
		{"POST", "/v1/rules:test", service.OpRulesTest, a.testRules, nil},
		{"POST", "/v1/rules:promote", service.OpRulesPromote, a.promoteRule, nil},
		{"GET", "/v1/tenants/{tenant}/rules", service.OpTenantRulesGet, a.getTenantRules, nil},
		{"PUT", "/v1/tenants/{tenant}/rules", service.OpTenantRulesPut, a.putTenantRules, yamlName},
		{"POST", "/v1/tenants/{tenant}/rules:validate", service.OpTenantRulesValidate, a.validateTenantRules, yamlName},
		{"POST", "/v1/tenants/{tenant}/rules:promote", service.OpTenantRulesPromote, a.promoteTenantRule, nil},
		{"POST", "/v1/rules:backtest", service.OpBacktest, a.backtest, backtest},
	}
}

// Unmatched is the route label of the requests that no route takes: a
// path not served (404), a method its path does not take (405), a path
// not in its clean form (400). They were not counted at all, so an
// identity server calling a wrong path or method, every one of its
// logins failing over, left no trace in /metrics; one label for them
// all, since the paths are the callers' and a series of each would be as
// many series as a scanner sends paths.
const Unmatched = "unmatched"

// Mux serves routes, each wrapped with authentication, metrics and panic
// recovery. A known path with the wrong method is a JSON 405 with Allow, an
// unknown path a JSON 404, and a path with an empty segment, "." or ".." a
// JSON 400 (see canonical); these are counted under the route Unmatched.
func (a *API) Mux(routes []Route) http.Handler {
	return canonical(a.mux(routes), a.measureUnmatched)
}

// measureUnmatched counts the answers of h under the route Unmatched.
func (a *API) measureUnmatched(h http.HandlerFunc) http.HandlerFunc {
	if a.Metrics == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		a.Metrics.HTTP(Unmatched, code, time.Since(start))
	}
}

// canonical refuses a path that is not in its clean form. http.ServeMux
// would answer it with a redirect to the clean path: /v1/users//u1 (an
// empty tenant) to /v1/users/u1, which an API client follows to a 404, or,
// with a DELETE, to another resource than it named. The escaped path is
// the one ServeMux cleans: a user id of "..", "." or "a//b" is sent
// escaped (/v1/users/acme/%2E%2E) and reaches its route. measure wraps
// the refusal's handler (API.measureUnmatched counts it).
func canonical(next http.Handler, measure func(http.HandlerFunc) http.HandlerFunc) http.Handler {
	refuse := measure(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadRequest, "invalid_argument", "path: an empty segment, . or .. in "+strconv.Quote(r.URL.EscapedPath()), "")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Escaping adds no '/' or '.', so the decoded path, at hand, says
		// whether the escaped one needs a look: most requests end here.
		if p := r.URL.Path; strings.Contains(p, "//") || strings.Contains(p, "/.") {
			if !clean(r.URL.EscapedPath()) {
				refuse(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// clean reports whether p is its own clean form, as http.ServeMux sees it
// (a trailing slash kept).
func clean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

func (a *API) mux(routes []Route) *http.ServeMux {
	mux := http.NewServeMux()
	allow := map[string][]string{}
	hooks := map[string]http.HandlerFunc{}
	var paths []string
	for _, r := range routes {
		mux.Handle(r.Pattern(), a.wrap(r))
		if _, ok := allow[r.Path]; !ok {
			paths = append(paths, r.Path)
		}
		if r.Op.Level() == auth.Hook {
			hooks[r.Path] = r.Handler
		}
		allow[r.Path] = append(allow[r.Path], r.Method)
		if r.Method == http.MethodGet {
			allow[r.Path] = append(allow[r.Path], http.MethodHead)
		}
	}
	for _, p := range paths {
		methods := allow[p]
		hook := hooks[p]
		mux.HandleFunc(p, a.measureUnmatched(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Allow"] = methods
			if hook != nil {
				// A hook's caller reads its answers in its own format
				// (Kratos': {"messages":[...]}): its handler refuses the
				// methods it does not take itself, as it refuses a query.
				hook(w, r)
				return
			}
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed here", r.Method), "")
		}))
	}
	mux.HandleFunc("/", a.measureUnmatched(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.URL.Path, "")
	}))
	return mux
}

// statusWriter remembers the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (a *API) wrap(r Route) http.Handler {
	pattern := r.Pattern()
	level := r.Op.Level() // an invalid Op needs admin: fail closed
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		refused := false // on its credentials, before its body was read
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.Log.Error("panic in http handler", "route", pattern, "panic", p, "stack", string(debug.Stack()))
				if sw.code == 0 {
					writeError(sw, http.StatusInternalServerError, "internal", "internal error", "")
				}
			}
			if a.Metrics != nil {
				code := sw.code
				if code == 0 {
					code = http.StatusOK
				}
				took := time.Since(start)
				if refused {
					took = untimed
				}
				a.Metrics.HTTP(pattern, code, took)
			}
		}()
		// A hook's handler checks its own credential (auth.Hook).
		if level != auth.Public && level != auth.Hook && !(level == auth.Scoring && a.Auth.ScoringOpen()) {
			// A tenant's operations are checked against the tenant of
			// their path: "" (a route without one) admits admins only.
			if err := a.Auth.CheckTenant(level, req.PathValue("tenant"), headerValue(req.Header, "Authorization"), req.TLS); err != nil {
				if level == auth.Admin || level == auth.TenantAdmin || !a.Auth.ScoringOpen() {
					sw.Header().Set("WWW-Authenticate", `Bearer realm="riskgate"`)
				}
				refused = true
				a.fail(sw, err)
				return
			}
		}
		// A hook's handler checks its query itself too, answering in the
		// format its caller reads (riskgate's error body is not one Kratos
		// knows).
		if req.URL.RawQuery != "" && level != auth.Hook { // most requests have none
			if err := checkQuery(req.URL.RawQuery, r.Query); err != nil {
				a.failRequest(sw, err)
				return
			}
		}
		r.Handler(sw, req)
	})
}
