package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
)

// The conformance test sends, for every operation of api/openapi.yaml,
// the requests a client makes (right ones, and the mistakes a client
// makes) to real servers, and holds both sides to the document:
//
//   - the request: a correct client's request must be one the document
//     accepts (openapi3filter.ValidateRequest), and a request the server
//     refuses for a reason the document can state (a type, an enum, a
//     range, a required field, the content type, the bearer token) must
//     be one the document refuses too, so that a client generated from
//     it (or validating against it) finds the mistake before sending;
//   - the answer: its status must be one the document lists for the
//     operation, and its headers and body what it says for that status
//     (openapi3filter.ValidateResponse with IncludeResponseStatus); a
//     status it does not list, a body where it describes none, or a
//     content type it does not name fail the test.
//
// Every status the document lists for an operation must be answered by
// one of the cases (or be in unreachableStatuses, with why), so that the
// document lists no answer the server cannot give, and the cases keep up
// with the document.

// conformanceRules is the shared ruleset the rules cases put: a rule that
// denies the legacy app, and one in shadow mode to promote.
const conformanceRules = `version: conformance-1
rules:
  - id: legacy-app
    description: The legacy app is retired.
    when: attempt.attributes["app"] == "legacy"
    action: deny
  - id: surge-watch
    description: Watched before it is enforced.
    when: attempt.channel == "batch"
    action: step_up
    mode: shadow
`

// conformanceOverlay is acme's overlay, with two shadow rules to promote.
const conformanceOverlay = `version: acme-1
rules:
  - id: acme-kiosk
    description: Kiosk logins are watched at acme.
    when: attempt.channel == "kiosk"
    action: step_up
    mode: shadow
  - id: acme-night
    description: Night logins are watched at acme.
    when: attempt.channel == "night"
    action: step_up
    mode: shadow
`

// brokenRules does not compile (a misspelt field).
const brokenRules = "rules:\n  - id: typo\n    description: A misspelt field.\n    when: geo.new_countyr\n    action: deny\n"

// kratosRules denies the logins of Kratos' API flows (channel api), for
// the hook's deny.
const kratosRules = "rules:\n  - id: no-api-logins\n    description: API logins are refused.\n    when: attempt.channel == \"api\"\n    action: deny\n"

// unreachableStatuses are the statuses the document lists that no case
// here can produce deterministically, with why; every other listed status
// must be answered by a case.
var unreachableStatuses = map[string]string{
	"backtest 429": "a second backtest while one runs: nothing holds one running for as long as a test needs (node/capture.go nodeCapture.busy)",
	"metrics 503":  "a gathering of over 10 seconds (promhttp's Timeout, api/server/health.go): a test would wait that long",
}

// confCase is one request and the answer it must get.
type confCase struct {
	op   string // the operationId the document's router must find
	name string
	// srv is the server it is sent to (conformanceEnv.srv); "" is main.
	srv    string
	method string
	path   string // with its query
	token  string // the bearer token; none when empty
	// ctype is the Content-Type: "" is application/json when there is a
	// body, "none" sends none.
	ctype  string
	header map[string]string
	body   string
	want   int
	// field is the error's field, for an answer that names one.
	field string
	// refused: the document refuses this request itself (a type, an enum,
	// a missing token...): a client that validates against it finds the
	// mistake before sending. False: the document must accept it.
	refused bool
	// down: the store and a readiness check fail during the call.
	down bool
	// before runs before the request (to put the server in the state the
	// case needs).
	before func(t *testing.T, e *conformanceEnv)
}

// conformanceEnv is the document's router, the servers the cases are
// sent to, and the statuses seen per operation.
type conformanceEnv struct {
	router routers.Router
	srv    map[string]*testServer
	down   *atomic.Bool
	seen   map[string]map[int]bool
}

// flakyStore fails every call while down is set, as a store that does not
// answer (engine.ErrUnavailable).
type flakyStore struct {
	engine.Store
	down *atomic.Bool
}

func (s flakyStore) err() error {
	if s.down.Load() {
		return fmt.Errorf("conformance: %w", engine.ErrUnavailable)
	}
	return nil
}

func (s flakyStore) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Observe(ctx, ev, st)
}

func (s flakyStore) Record(ctx context.Context, ev *engine.Event) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Record(ctx, ev)
}

func (s flakyStore) Commit(ctx context.Context, c *engine.Commit) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Commit(ctx, c)
}

func (s flakyStore) TakePending(ctx context.Context, tenant, id string) (engine.Pending, bool, error) {
	if err := s.err(); err != nil {
		return engine.Pending{}, false, err
	}
	return s.Store.TakePending(ctx, tenant, id)
}

func (s flakyStore) Profile(ctx context.Context, tenant string, user engine.Key) (engine.Profile, bool, error) {
	if err := s.err(); err != nil {
		return engine.Profile{}, false, err
	}
	return s.Store.Profile(ctx, tenant, user)
}

func (s flakyStore) Forget(ctx context.Context, tenant string, user engine.Key) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Forget(ctx, tenant, user)
}

// loadConformance loads the document and its router, with the body
// decoders the document's media types need.
func loadConformance(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	doc := loadOpenAPI(t)
	doc.Servers = nil // match the test servers' addresses
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	// A YAML body is described as what it is, the file's text (type
	// string, as the rules' files[].content): kin-openapi's own YAML
	// decoder would parse it into a map first. The HTML and OpenMetrics
	// answers are text as well.
	for _, ct := range []string{"application/yaml", "text/html", "application/openmetrics-text"} {
		prev := openapi3filter.RegisteredBodyDecoder(ct)
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		t.Cleanup(func() {
			if prev != nil {
				openapi3filter.RegisterBodyDecoder(ct, prev)
			} else {
				openapi3filter.UnregisterBodyDecoder(ct)
			}
		})
	}
	return doc, router
}

// bearerPresent is the document's security as a client sees it: a bearer
// scheme is met by an Authorization: Bearer header with a token (which
// token is right, the document cannot say).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || in.SecurityScheme.Scheme != "bearer" {
		return in.NewError(fmt.Errorf("scheme %q: not a bearer scheme", in.SecuritySchemeName))
	}
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if token, ok := strings.CutPrefix(h, "Bearer "); !ok || strings.TrimSpace(token) == "" {
		return in.NewError(errors.New("no bearer token"))
	}
	return nil
}

// validationOptions validate requests with bearerPresent and answers
// with their status: a status the document does not list is an error.
func validationOptions() *openapi3filter.Options {
	return &openapi3filter.Options{AuthenticationFunc: bearerPresent, IncludeResponseStatus: true, MultiError: true}
}

// TestOpenAPIConformance: every operation of api/openapi.yaml, on real
// servers, request and answer held to the document (see the top of the
// file).
func TestOpenAPIConformance(t *testing.T) {
	doc, router := loadConformance(t)
	down := new(atomic.Bool)
	check := server.Check{Name: "geoip", Check: func(context.Context) error {
		if down.Load() {
			return errors.New("conformance: down")
		}
		return nil
	}}
	e := &conformanceEnv{router: router, down: down, seen: map[string]map[int]bool{}}
	e.srv = map[string]*testServer{
		// Everything configured: a scoring token, tenants, a capture, a
		// store and a readiness check that can be made to fail.
		"main": startServer(t, testOpts{admin: adminToken, scoring: scoringToken, capture: true,
			tenantTokens: map[string]string{"acme": acmeToken, "beta": betaToken},
			store:        flakyStore{Store: memstore.New(memstore.Options{}), down: down}, checks: []server.Check{check}}),
		// The defaults: scoring open, no capture, no tenants folder.
		"open": startServer(t, testOpts{admin: adminToken}),
		// No admin credential: the admin API is off.
		"off": startServer(t, testOpts{}),
		// A capture that holds nothing yet.
		"bare": startServer(t, testOpts{admin: adminToken, capture: true}),
		// A backtest timeout no backtest can meet.
		"slow": startServer(t, testOpts{admin: adminToken, capture: true, backtestTimeout: time.Nanosecond}),
		// The Ory Kratos hook.
		"kratos": startServer(t, testOpts{admin: adminToken, kratos: true}),
	}
	ran := 0
	for _, c := range conformanceCases() {
		t.Run(c.op+"/"+strconv.Itoa(c.want)+"/"+c.name, func(t *testing.T) { ran++; e.run(t, c) })
	}
	if cases := len(conformanceCases()); ran < cases {
		t.Logf("%d cases of %d run (-run): the statuses the document lists are not all checked", ran, cases)
		return
	}

	// Every status the document lists was answered (or cannot be).
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s %s: response %q: list statuses, not ranges or default", method, path, code)
					continue
				}
				if e.seen[op.OperationID][status] {
					continue
				}
				if _, ok := unreachableStatuses[op.OperationID+" "+code]; !ok {
					t.Errorf("%s (%s %s): the document lists %d, which no case answered: add a case, or remove the status if the server cannot answer it", op.OperationID, method, path, status)
				}
			}
		}
	}
	listed := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for code := range op.Responses.Map() {
				listed[op.OperationID+" "+code] = true
			}
		}
	}
	for k := range unreachableStatuses {
		op, code, _ := strings.Cut(k, " ")
		status, _ := strconv.Atoi(code)
		switch {
		case !listed[k]:
			t.Errorf("unreachableStatuses %q: not a status the document lists", k)
		case e.seen[op][status]:
			t.Errorf("unreachableStatuses %q was answered: take it out of the list", k)
		}
	}
}

// run sends c and holds the request and the answer to the document.
func (e *conformanceEnv) run(t *testing.T, c confCase) {
	srv := e.srv[orMain(c.srv)]
	if srv == nil {
		t.Fatalf("no server %q", c.srv)
	}
	if c.before != nil {
		c.before(t, e)
	}
	path, body := e.expand(t, srv, c.path), e.expand(t, srv, c.body)
	header := http.Header{}
	switch {
	case c.ctype == "none":
	case c.ctype != "":
		header.Set("Content-Type", c.ctype)
	case body != "":
		header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		header.Set(k, e.expand(t, srv, v))
	}
	newRequest := func() *http.Request {
		req, err := http.NewRequest(c.method, srv.url(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header.Clone()
		return req
	}

	// The request, as the document sees it.
	vreq := newRequest()
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		t.Fatalf("%s %s: not in api/openapi.yaml: %v", c.method, path, err)
	}
	if route.Operation.OperationID != c.op {
		t.Fatalf("%s %s is operation %q in api/openapi.yaml, not %q", c.method, path, route.Operation.OperationID, c.op)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: validationOptions()}
	if len(body) > 1<<20 {
		// A body over a size limit (413): the document states the limits
		// in words, which no schema check sees, and decoding megabytes
		// of JSON to find nothing more took most of the test's time.
		in.Options.ExcludeRequestBody = true
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)

	// The answer.
	if c.down {
		e.down.Store(true)
	}
	resp, err := http.DefaultClient.Do(newRequest())
	e.down.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if e.seen[c.op] == nil {
		e.seen[c.op] = map[int]bool{}
	}
	e.seen[c.op][resp.StatusCode] = true

	switch {
	case c.refused && reqErr == nil:
		t.Errorf("api/openapi.yaml accepts this request, which the server answers %d: the document should say what is wrong with it", resp.StatusCode)
	case !c.refused && reqErr != nil:
		t.Errorf("api/openapi.yaml refuses a correct request (answered %d): %s", resp.StatusCode, short(reqErr))
	}
	if resp.StatusCode != c.want {
		t.Errorf("answered %d %.300s, want %d", resp.StatusCode, data, c.want)
	}
	if err := validateAnswer(in, resp, data); err != nil {
		t.Errorf("the answer (%d %s %.200q) is not what api/openapi.yaml describes: %s", resp.StatusCode, resp.Header.Get("Content-Type"), data, short(err))
	}
	if c.field != "" {
		var ae apiError
		if err := json.Unmarshal(data, &ae); err != nil || ae.Error.Field != c.field {
			t.Errorf("the error names field %q, want %q (%s)", ae.Error.Field, c.field, data)
		}
	}
}

// validateAnswer holds an answer to the document: its status, headers and
// body (ValidateResponse), and, where the document describes no body, no
// body at all (ValidateResponse lets any through).
func validateAnswer(in *openapi3filter.RequestValidationInput, resp *http.Response, data []byte) error {
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(data)), Options: validationOptions()}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return err
	}
	r := in.Route.Operation.Responses.Status(resp.StatusCode).Value
	if len(r.Content) == 0 && len(data) > 0 {
		return fmt.Errorf("the document describes no body for %d, and the answer has one", resp.StatusCode)
	}
	for _, h := range describedHeaders {
		if resp.Header.Get(h) != "" && r.Headers[h] == nil {
			return fmt.Errorf("the answer has a %s header (%q), which the document does not describe for %d", h, resp.Header.Get(h), resp.StatusCode)
		}
	}
	return nil
}

// describedHeaders are the answers' headers a client acts on: each one an
// answer carries must be in the document's description of that answer.
// (Content-Type is the content's; Cache-Control, X-Content-Type-Options
// and the like are for caches and browsers.)
var describedHeaders = []string{"ETag", "WWW-Authenticate", "Accept-Encoding", "Allow", "Retry-After", "Location"}

// expand fills the placeholders of a case with values of the server's
// state at the time of the call: {pending} a decision awaiting its
// outcome, {complete} one complete when scored, {version} the shared
// rules version in force, {acme} acme's overlay version.
func (e *conformanceEnv) expand(t *testing.T, srv *testServer, s string) string {
	t.Helper()
	if !strings.Contains(s, "{") {
		return s
	}
	score := func(body string) string {
		var d struct {
			ID string `json:"decision_id"`
		}
		if code := httpDo(t, nil, "POST", srv.url("/v1/score"), adminToken, body, &d); code != 200 || d.ID == "" {
			t.Fatalf("score for a placeholder: %d", code)
		}
		return d.ID
	}
	for name, value := range map[string]func() string{
		"{pending}":  func() string { return score(`{"user_id":"u-pending","ip":"81.2.69.160"}`) },
		"{complete}": func() string { return score(`{"user_id":"u-complete","ip":"81.2.69.160","result":"password_bad"}`) },
		"{version}": func() string {
			var rs struct{ Version string }
			if code := httpDo(t, nil, "GET", srv.url("/v1/rules"), adminToken, nil, &rs); code != 200 {
				t.Fatalf("GET /v1/rules for {version}: %d", code)
			}
			return rs.Version
		},
		"{acme}": func() string {
			var tr tenantJSON
			if code := httpDo(t, nil, "GET", srv.url("/v1/tenants/acme/rules"), adminToken, nil, &tr); code != 200 || tr.Overlay == nil {
				t.Fatalf("GET /v1/tenants/acme/rules for {acme}: %d %+v", code, tr)
			}
			return tr.Overlay.Version
		},
	} {
		if strings.Contains(s, name) {
			s = strings.ReplaceAll(s, name, value())
		}
	}
	return s
}

// short is err's message cut to a readable length: kin-openapi's quote
// the whole value, a 4 MiB body included.
func short(err error) string {
	const max = 1500
	if s := err.Error(); len(s) > max {
		return s[:max] + "..."
	}
	return err.Error()
}

// orMain is a case's server, main when it names none.
func orMain(srv string) string {
	if srv == "" {
		return "main"
	}
	return srv
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestOpenAPIUndescribedRequests: what the document has no operation for
// is answered in the error format it describes (components.schemas.Error):
// a method a path does not have is a 405 whose Allow lists the methods
// the document gives it (and HEAD with GET, as net/http serves it), an
// unknown path a 404, a path that is not in its clean form a 400. A
// hook's path (tag hooks) answers its 405 in its caller's format, with
// no message (KratosMessages).
func TestOpenAPIUndescribedRequests(t *testing.T) {
	doc, router := loadConformance(t)
	ts := startServer(t, testOpts{admin: adminToken, kratos: true})
	errSchema := doc.Components.Schemas["Error"].Value
	answerAs := func(schema *openapi3.Schema, method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, ts.url(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s %s: %d %q: not JSON: %v", method, path, resp.StatusCode, data, err)
		} else if err := schema.VisitJSON(v); err != nil {
			t.Errorf("%s %s: %d %s: not in the document's format: %v", method, path, resp.StatusCode, data, err)
		}
		var ae apiError
		_ = json.Unmarshal(data, &ae)
		return resp, ae.Error.Code
	}
	answer := func(method, path string) (*http.Response, string) { return answerAs(errSchema, method, path) }
	fill := strings.NewReplacer("{tenant}", "acme", "{user}", "u-1")
	for path, item := range doc.Paths.Map() {
		var allowed []string
		wantCode, schema := "method_not_allowed", errSchema
		for method, op := range item.Operations() {
			if slices.Contains(op.Tags, "hooks") {
				wantCode, schema = "", doc.Components.Schemas["KratosMessages"].Value
			}
			allowed = append(allowed, method)
			if method == http.MethodGet {
				allowed = append(allowed, http.MethodHead)
			}
		}
		for _, method := range []string{"GET", "PUT", "POST", "DELETE", "PATCH"} {
			if item.GetOperation(method) != nil {
				continue
			}
			req, _ := http.NewRequest(method, ts.url(fill.Replace(path)), nil)
			if _, _, err := router.FindRoute(req); !errors.Is(err, routers.ErrMethodNotAllowed) {
				t.Errorf("%s %s: the document's router says %v, want method not allowed", method, path, err)
			}
			resp, code := answerAs(schema, method, fill.Replace(path))
			got := resp.Header.Values("Allow")
			sort.Strings(got)
			sort.Strings(allowed)
			if resp.StatusCode != http.StatusMethodNotAllowed || code != wantCode || !slices.Equal(got, allowed) {
				t.Errorf("%s %s: %d %q, Allow %q; want 405 %q, Allow %q", method, path, resp.StatusCode, code, got, wantCode, allowed)
			}
		}
	}
	for path, want := range map[string]int{
		"/v2/score":             http.StatusNotFound,
		"/v1/rules/":            http.StatusNotFound,
		"/v1/users//u-1":        http.StatusBadRequest,
		"/v1/users/acme/../u-1": http.StatusBadRequest,
	} {
		req, _ := http.NewRequest("GET", ts.url(path), nil)
		if _, _, err := router.FindRoute(req); err == nil {
			t.Errorf("GET %s: in the document", path)
		}
		if resp, _ := answer("GET", path); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
