package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
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

// manyAttributes are n attributes, as JSON members.
func manyAttributes(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	return b.String()
}

// filesBody is a JSON rules request of one file.
func filesBody(name, content string) string {
	return `{"files":[{"name":` + jsonString(name) + `,"content":` + jsonString(content) + `}]}`
}

// conformanceCases are the requests, in the order they are sent: some
// rely on what an earlier one did (the rules and acme's overlay are put
// before they are promoted, a rule promoted before it is promoted again,
// the tenants folder taken away last).
func conformanceCases() []confCase {
	const (
		attempt = `{"user_id":"u-42","username":"alice@example.com","ip":"81.2.69.160","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","device_id":"d-7f3a","result":"password_ok"}`
		badJSON = `{"ip":"81.2.69.160",`
	)
	var (
		big         = strings.Repeat("x", 70<<10) // over the attempts' 64 KiB
		bigRules    = strings.Repeat("#", 4<<20)  // over the rules' 4 MiB
		bigBacktest = strings.Repeat("#", 8<<20)  // over a backtest's 8 MiB
		longID      = strings.Repeat("u", 257)    // over the ids' 256 bytes
		rules       = filesBody("rules.yaml", conformanceRules)
		overlay     = filesBody("acme.yaml", conformanceOverlay)
		broken      = filesBody("bad.yaml", brokenRules)
		kratosLogin = func(flowType string) string {
			return `{"flow_id":"f-1","flow_type":"` + flowType + `","authenticated_at":"2026-06-01T10:00:00Z","identity_id":"id-1","username":"alice@example.com","ip":"81.2.69.160:51234","user_agent":"Mozilla/5.0","location":"London, GB","aal":"aal1"}`
		}
	)
	// putKratosRules gives the Kratos server its rules, once.
	putKratosRules := func(t *testing.T, e *conformanceEnv) {
		if code := httpDo(t, nil, "PUT", e.srv["kratos"].url("/v1/rules"), adminToken, filesBody("rules.yaml", kratosRules), nil); code != 200 {
			t.Fatalf("PUT the Kratos server's rules: %d", code)
		}
	}
	// goneTenants moves main's tenants folder away (a volume that failed
	// to mount) until the test ends, and waits until the server sees it.
	goneTenants := func(t *testing.T, e *conformanceEnv) {
		ts := e.srv["main"]
		if err := os.Rename(ts.tenantsDir, ts.tenantsDir+".away"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the missing tenants folder reported", func() bool {
			var v struct {
				ReloadError any `json:"reload_error"`
			}
			return httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), adminToken, nil, &v) == 200 && v.ReloadError != nil
		})
	}

	return []confCase{
		// POST /v1/score
		{op: "score", name: "the document's example", method: "POST", path: "/v1/score", token: scoringToken, body: attempt, want: 200},
		{op: "score", name: "every field", method: "POST", path: "/v1/score", token: scoringToken, want: 200,
			body: `{"tenant":"acme","attempt_id":"a-1","time":"2026-06-01T10:00:00Z","user_id":"u-43","username":"bob","ip":"2001:db8::7","user_agent":"curl/8","device_id":"d-1","password_sha1":"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8","result":"password_bad","geo":{"country":"GB","lat":51.5,"lon":-0.12},"channel":"web","attributes":{"app":"ios"}}`},
		{op: "score", name: "omit_signals", method: "POST", path: "/v1/score?omit_signals=true", token: scoringToken, body: attempt, want: 200},
		{op: "score", name: "before_password", method: "POST", path: "/v1/score?before_password=1", token: scoringToken, body: `{"user_id":"u-42","ip":"81.2.69.160"}`, want: 200},
		{op: "score", name: "both parameters", method: "POST", path: "/v1/score?omit_signals=TRUE&before_password=false", token: scoringToken, body: attempt, want: 200},
		// The server takes a body without a Content-Type (README), which the
		// document cannot say: its clients send one.
		{op: "score", name: "no Content-Type", method: "POST", path: "/v1/score", token: scoringToken, ctype: "none", body: attempt, want: 200, refused: true},
		{op: "score", name: "a long user agent is cut, not refused", method: "POST", path: "/v1/score", token: scoringToken, want: 200,
			body: `{"ip":"81.2.69.160","user_agent":"` + strings.Repeat("a", 2000) + `","username":"` + strings.Repeat("b", 300) + `","device_id":"` + strings.Repeat("c", 300) + `"}`},
		{op: "score", name: "scoring open, no token", srv: "open", method: "POST", path: "/v1/score", body: attempt, want: 200},
		{op: "score", name: "the store down", method: "POST", path: "/v1/score", token: scoringToken, body: attempt, down: true, want: 200},
		{op: "score", name: "the store down, a retry's attempt_id", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attempt_id":"a-down"}`, down: true, want: 200},
		{op: "score", name: "bad JSON", method: "POST", path: "/v1/score", token: scoringToken, body: badJSON, want: 400, refused: true},
		{op: "score", name: "no body", method: "POST", path: "/v1/score", token: scoringToken, ctype: "application/json", want: 400, field: "ip", refused: true},
		{op: "score", name: "no ip", method: "POST", path: "/v1/score", token: scoringToken, body: `{"user_id":"u-42"}`, want: 400, field: "ip", refused: true},
		{op: "score", name: "an empty ip", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":""}`, want: 400, field: "ip", refused: true},
		{op: "score", name: "an ip too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"` + strings.Repeat("1", 65) + `"}`, want: 400, field: "ip", refused: true},
		{op: "score", name: "not an address", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.999"}`, want: 400, field: "ip"},
		{op: "score", name: "a number for a string", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","username":7}`, want: 400, field: "username", refused: true},
		{op: "score", name: "latitude out of range", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","geo":{"lat":91,"lon":0}}`, want: 400, field: "geo.lat", refused: true},
		{op: "score", name: "country not two letters", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","geo":{"country":"GBR"}}`, want: 400, field: "geo.country", refused: true},
		{op: "score", name: "unknown result", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","result":"ok"}`, want: 400, field: "result", refused: true},
		{op: "score", name: "unknown field", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","ipaddr":"x"}`, want: 400, field: "ipaddr", refused: true},
		{op: "score", name: "not a SHA-1", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","password_sha1":"hunter2"}`, want: 400, field: "password_sha1", refused: true},
		{op: "score", name: "a tenant of other characters", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","tenant":"acme corp"}`, want: 400, field: "tenant", refused: true},
		{op: "score", name: "a tenant starting with a dot", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","tenant":".acme"}`, want: 400, field: "tenant", refused: true},
		{op: "score", name: "a channel of other characters", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","channel":"web app"}`, want: 400, field: "channel", refused: true},
		{op: "score", name: "an id too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","user_id":"` + longID + `"}`, want: 400, field: "user_id", refused: true},
		// 200 characters, 400 bytes: the document's maxLength counts
		// characters, the server bytes (the description says so).
		{op: "score", name: "an id of two-byte characters too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","user_id":"` + strings.Repeat("é", 200) + `"}`, want: 400, field: "user_id"},
		{op: "score", name: "an attribute key too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attributes":{"` + strings.Repeat("k", 65) + `":"v"}}`, want: 400, field: "attributes"},
		{op: "score", name: "a year before 2000", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","time":"1999-12-31T23:59:59Z"}`, want: 400, field: "time"},
		{op: "score", name: "33 attributes", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attributes":{` + manyAttributes(33) + `}}`, want: 400, field: "attributes", refused: true},
		{op: "score", name: "a password in the attributes", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attributes":{"password":"hunter2"}}`, want: 400, field: "attributes.password"},
		{op: "score", name: "before_password with a result", method: "POST", path: "/v1/score?before_password=true", token: scoringToken, body: attempt, want: 400, field: "before_password"},
		{op: "score", name: "not a boolean", method: "POST", path: "/v1/score?omit_signals=yes", token: scoringToken, body: attempt, want: 400, field: "omit_signals", refused: true},
		{op: "score", name: "a misspelt parameter", method: "POST", path: "/v1/score?before_pasword=1", token: scoringToken, body: attempt, want: 400, field: "before_pasword"},
		{op: "score", name: "a parameter twice", method: "POST", path: "/v1/score?omit_signals=true&omit_signals=false", token: scoringToken, body: attempt, want: 400, field: "omit_signals"},
		{op: "score", name: "no token", method: "POST", path: "/v1/score", body: attempt, want: 401},
		{op: "score", name: "a wrong token", method: "POST", path: "/v1/score", token: "wrong-token-0123456789", body: attempt, want: 401},
		{op: "score", name: "a tenant admin's token", method: "POST", path: "/v1/score", token: acmeToken, body: attempt, want: 403},
		{op: "score", name: "over 64 KiB", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","user_agent":"` + big + `"}`, want: 413},
		{op: "score", name: "text/plain", method: "POST", path: "/v1/score", token: scoringToken, ctype: "text/plain", body: attempt, want: 415, refused: true},
		{op: "score", name: "gzip", method: "POST", path: "/v1/score", token: scoringToken, header: map[string]string{"Content-Encoding": "gzip"}, body: attempt, want: 415},

		// POST /v1/outcome
		{op: "report", name: "a pending decision's outcome", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}","outcome":"login_succeeded","time":"2026-06-01T10:00:00Z"}`, want: 204},
		{op: "report", name: "an analyst's label", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{complete}","outcome":"confirmed_fraud"}`, want: 204},
		{op: "report", name: "the attempt itself", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"attempt":{"user_id":"u-42","ip":"81.2.69.160","attempt_id":"a-out"},"outcome":"login_failed"}`, want: 204},
		{op: "report", name: "scoring open, no token", srv: "open", method: "POST", path: "/v1/outcome", body: `{"decision_id":"{pending}","outcome":"login_failed"}`, want: 204},
		{op: "report", name: "unknown decision", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"nope","outcome":"login_failed"}`, want: 404, field: "decision_id"},
		{op: "report", name: "a decision complete when scored", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{complete}","outcome":"login_failed"}`, want: 404, field: "decision_id"},
		{op: "report", name: "the store down", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}","outcome":"login_failed"}`, down: true, want: 503},
		{op: "report", name: "bad JSON", method: "POST", path: "/v1/outcome", token: scoringToken, body: badJSON, want: 400, refused: true},
		{op: "report", name: "no outcome", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}"}`, want: 400, field: "outcome", refused: true},
		{op: "report", name: "unknown outcome", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}","outcome":"success"}`, want: 400, field: "outcome", refused: true},
		{op: "report", name: "a tenant of other characters", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"tenant":"acme corp","decision_id":"{pending}","outcome":"login_failed"}`, want: 400, field: "tenant", refused: true},
		{op: "report", name: "neither decision nor attempt", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"outcome":"login_failed"}`, want: 400, field: "decision_id"},
		{op: "report", name: "a string for the attempt", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"attempt":"81.2.69.160","outcome":"login_failed"}`, want: 400, field: "attempt", refused: true},
		{op: "report", name: "the attempt's bad address", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"attempt":{"ip":"nope"},"outcome":"login_failed"}`, want: 400, field: "attempt.ip"},
		{op: "report", name: "no token", method: "POST", path: "/v1/outcome", body: `{"decision_id":"x","outcome":"login_failed"}`, want: 401},
		{op: "report", name: "a tenant admin's token", method: "POST", path: "/v1/outcome", token: acmeToken, body: `{"decision_id":"x","outcome":"login_failed"}`, want: 403},
		{op: "report", name: "over 64 KiB", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"` + big + `","outcome":"login_failed"}`, want: 413},
		{op: "report", name: "text/plain", method: "POST", path: "/v1/outcome", token: scoringToken, ctype: "text/plain", body: `{"decision_id":"x","outcome":"login_failed"}`, want: 415, refused: true},

		// GET /v1/users/{tenant}/{user}
		{op: "getProfile", name: "a user with a baseline", method: "GET", path: "/v1/users/default/u-42", token: adminToken, want: 200},
		{op: "getProfile", name: "an escaped user id", method: "GET", path: "/v1/users/default/u%2F42", token: adminToken, want: 404},
		{op: "getProfile", name: "nothing held", method: "GET", path: "/v1/users/default/u-nobody", token: adminToken, want: 404},
		{op: "getProfile", name: "a user id too long", method: "GET", path: "/v1/users/default/" + longID, token: adminToken, want: 400, field: "user_id", refused: true},
		{op: "getProfile", name: "a tenant of other characters", method: "GET", path: "/v1/users/acme%20corp/u-42", token: adminToken, want: 400, field: "tenant", refused: true},
		{op: "getProfile", name: "a query", method: "GET", path: "/v1/users/default/u-42?full=1", token: adminToken, want: 400, field: "full"},
		{op: "getProfile", name: "the store down", method: "GET", path: "/v1/users/default/u-42", token: adminToken, down: true, want: 503},
		{op: "getProfile", name: "no token", method: "GET", path: "/v1/users/default/u-42", want: 401, refused: true},
		{op: "getProfile", name: "the scoring token", method: "GET", path: "/v1/users/default/u-42", token: scoringToken, want: 403},
		{op: "getProfile", name: "the admin API off", srv: "off", method: "GET", path: "/v1/users/default/u-42", token: adminToken, want: 403},

		// DELETE /v1/users/{tenant}/{user}
		{op: "forget", name: "a user", method: "DELETE", path: "/v1/users/default/u-43", token: adminToken, want: 204},
		{op: "forget", name: "a user id too long", method: "DELETE", path: "/v1/users/default/" + longID, token: adminToken, want: 400, field: "user_id", refused: true},
		{op: "forget", name: "the store down", method: "DELETE", path: "/v1/users/default/u-43", token: adminToken, down: true, want: 503},
		{op: "forget", name: "no token", method: "DELETE", path: "/v1/users/default/u-43", want: 401, refused: true},
		{op: "forget", name: "a tenant admin's token", method: "DELETE", path: "/v1/users/acme/u-43", token: acmeToken, want: 403},

		// GET /v1/rules
		{op: "getRules", name: "the ruleset", method: "GET", path: "/v1/rules", token: adminToken, want: 200},
		{op: "getRules", name: "a query", method: "GET", path: "/v1/rules?v=2", token: adminToken, want: 400, field: "v"},
		{op: "getRules", name: "no token", method: "GET", path: "/v1/rules", want: 401, refused: true},
		{op: "getRules", name: "the scoring token", method: "GET", path: "/v1/rules", token: scoringToken, want: 403},
		{op: "getRules", name: "the admin API off", srv: "off", method: "GET", path: "/v1/rules", token: "any-token-0123456789", want: 403},

		// PUT /v1/rules
		{op: "putRules", name: "files", method: "PUT", path: "/v1/rules", token: adminToken, body: rules, want: 200},
		{op: "putRules", name: "a YAML file", method: "PUT", path: "/v1/rules?name=rules.yaml", token: adminToken, ctype: "application/yaml", body: conformanceRules, want: 200},
		{op: "putRules", name: "if_version", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"if_version":"{version}",` + rules[1:], want: 200},
		{op: "putRules", name: "If-Match", method: "PUT", path: "/v1/rules", token: adminToken, header: map[string]string{"If-Match": `"{version}"`}, body: rules, want: 200},
		{op: "putRules", name: "held in memory", srv: "open", method: "PUT", path: "/v1/rules", token: adminToken, body: rules, want: 200},
		{op: "putRules", name: "a stale if_version", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"if_version":"sha256:000000000000",` + rules[1:], want: 409, field: "if_version"},
		{op: "putRules", name: "a stale If-Match", method: "PUT", path: "/v1/rules", token: adminToken, header: map[string]string{"If-Match": `"sha256:000000000000"`}, body: rules, want: 409, field: "if_version"},
		{op: "putRules", name: "if_version and If-Match differ", method: "PUT", path: "/v1/rules", token: adminToken, header: map[string]string{"If-Match": `"{version}"`}, body: `{"if_version":"sha256:000000000000",` + rules[1:], want: 400, field: "if_version"},
		{op: "putRules", name: "a ruleset that does not compile", method: "PUT", path: "/v1/rules", token: adminToken, body: broken, want: 400, field: "files"},
		{op: "putRules", name: "bad JSON", method: "PUT", path: "/v1/rules", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "putRules", name: "a string for files", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"files":"rules.yaml"}`, want: 400, field: "files", refused: true},
		{op: "putRules", name: "a file without content", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"files":[{"name":"rules.yaml"}]}`, want: 400, field: "files", refused: true},
		{op: "putRules", name: "an attempt", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160"},` + rules[1:], want: 400, field: "attempt", refused: true},
		{op: "putRules", name: "no files", method: "PUT", path: "/v1/rules", token: adminToken, body: `{}`, want: 400, field: "files", refused: true},
		{op: "putRules", name: "name with JSON", method: "PUT", path: "/v1/rules?name=a.yaml", token: adminToken, body: rules, want: 400, field: "name"},
		{op: "putRules", name: "no token", method: "PUT", path: "/v1/rules", body: rules, want: 401, refused: true},
		{op: "putRules", name: "a tenant admin's token", method: "PUT", path: "/v1/rules", token: acmeToken, body: rules, want: 403},
		{op: "putRules", name: "over 4 MiB", method: "PUT", path: "/v1/rules", token: adminToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "putRules", name: "text/plain", method: "PUT", path: "/v1/rules", token: adminToken, ctype: "text/plain", body: conformanceRules, want: 415, refused: true},

		// POST /v1/rules:validate
		{op: "validateRules", name: "a ruleset that compiles", method: "POST", path: "/v1/rules:validate", token: adminToken, body: rules, want: 200},
		{op: "validateRules", name: "one that does not", method: "POST", path: "/v1/rules:validate", token: adminToken, body: broken, want: 200},
		{op: "validateRules", name: "a YAML file", method: "POST", path: "/v1/rules:validate?name=bad.yaml", token: adminToken, ctype: "application/yaml", body: brokenRules, want: 200},
		{op: "validateRules", name: "an if_version", method: "POST", path: "/v1/rules:validate", token: adminToken, body: `{"if_version":"x",` + rules[1:], want: 400, field: "if_version", refused: true},
		{op: "validateRules", name: "no files", method: "POST", path: "/v1/rules:validate", token: adminToken, body: `{"files":[]}`, want: 400, field: "files", refused: true},
		{op: "validateRules", name: "bad JSON", method: "POST", path: "/v1/rules:validate", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "validateRules", name: "no token", method: "POST", path: "/v1/rules:validate", body: rules, want: 401, refused: true},
		{op: "validateRules", name: "the scoring token", method: "POST", path: "/v1/rules:validate", token: scoringToken, body: rules, want: 403},
		{op: "validateRules", name: "over 4 MiB", method: "POST", path: "/v1/rules:validate", token: adminToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "validateRules", name: "text/plain", method: "POST", path: "/v1/rules:validate", token: adminToken, ctype: "text/plain", body: conformanceRules, want: 415, refused: true},

		// POST /v1/rules:test
		{op: "testRules", name: "the ruleset in force", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":` + attempt + `}`, want: 200},
		{op: "testRules", name: "a candidate", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160","attributes":{"app":"legacy"}},` + rules[1:], want: 200},
		{op: "testRules", name: "no attempt", method: "POST", path: "/v1/rules:test", token: adminToken, body: rules, want: 400, field: "attempt", refused: true},
		{op: "testRules", name: "the attempt's bad address", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"nope"}}`, want: 400, field: "attempt.ip"},
		{op: "testRules", name: "a candidate that does not compile", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160"},` + broken[1:], want: 400, field: "files"},
		{op: "testRules", name: "bad JSON", method: "POST", path: "/v1/rules:test", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "testRules", name: "no token", method: "POST", path: "/v1/rules:test", body: `{"attempt":` + attempt + `}`, want: 401, refused: true},
		{op: "testRules", name: "the scoring token", method: "POST", path: "/v1/rules:test", token: scoringToken, body: `{"attempt":` + attempt + `}`, want: 403},
		{op: "testRules", name: "over 4 MiB", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160"},` + filesBody("rules.yaml", bigRules)[1:], want: 413},
		{op: "testRules", name: "text/plain", method: "POST", path: "/v1/rules:test", token: adminToken, ctype: "text/plain", body: `{"attempt":` + attempt + `}`, want: 415, refused: true},

		// POST /v1/rules:backtest (main has scored attempts by now)
		{op: "backtest", name: "no body", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 200},
		{op: "backtest", name: "html", method: "POST", path: "/v1/rules:backtest?format=html", token: adminToken, want: 200},
		{op: "backtest", name: "text", method: "POST", path: "/v1/rules:backtest?format=text", token: adminToken, want: 200},
		{op: "backtest", name: "every field", method: "POST", path: "/v1/rules:backtest?format=json", token: adminToken, want: 200,
			body: `{"files":[{"name":"a.yaml","content":` + jsonString(conformanceRules) + `}],"baseline_files":[{"name":"b.yaml","content":` + jsonString(kratosRules) + `}],"samples":2,"max_attempts":10}`},
		{op: "backtest", name: "a YAML candidate", method: "POST", path: "/v1/rules:backtest?name=c.yaml", token: adminToken, ctype: "application/yaml", body: conformanceRules, want: 200},
		{op: "backtest", name: "no capture", srv: "open", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 400},
		{op: "backtest", name: "an empty capture", srv: "bare", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 400},
		{op: "backtest", name: "an unknown format", method: "POST", path: "/v1/rules:backtest?format=pdf", token: adminToken, want: 400, field: "format", refused: true},
		{op: "backtest", name: "a negative max_attempts", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: `{"max_attempts":-1}`, want: 400, field: "max_attempts", refused: true},
		{op: "backtest", name: "a candidate that does not compile", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: broken, want: 400, field: "files"},
		{op: "backtest", name: "a baseline that does not compile", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: `{"baseline_files":` + broken[len(`{"files":`):], want: 400, field: "baseline_files"},
		{op: "backtest", name: "white space", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: " \n", want: 400, refused: true},
		{op: "backtest", name: "name with JSON", method: "POST", path: "/v1/rules:backtest?name=a.yaml", token: adminToken, body: `{}`, want: 400, field: "name"},
		{op: "backtest", name: "no token", method: "POST", path: "/v1/rules:backtest", want: 401, refused: true},
		{op: "backtest", name: "a tenant admin's token", method: "POST", path: "/v1/rules:backtest", token: acmeToken, want: 403},
		{op: "backtest", name: "over 8 MiB", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: filesBody("rules.yaml", bigBacktest), want: 413},
		{op: "backtest", name: "text/plain", method: "POST", path: "/v1/rules:backtest", token: adminToken, ctype: "text/plain", body: "{}", want: 415, refused: true},
		{op: "backtest", name: "past the timeout", srv: "slow", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 504,
			before: func(t *testing.T, e *conformanceEnv) {
				if code := httpDo(t, nil, "POST", e.srv["slow"].url("/v1/score"), "", `{"ip":"81.2.69.160"}`, nil); code != 200 {
					t.Fatalf("score on the slow server: %d", code)
				}
			}},

		// POST /v1/rules:promote (main's rules are conformanceRules)
		{op: "promoteRule", name: "a shadow rule", method: "POST", path: "/v1/rules:promote", token: adminToken, header: map[string]string{"If-Match": `"{version}"`}, body: `{"rule_id":"surge-watch"}`, want: 200},
		{op: "promoteRule", name: "an enforced rule", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"surge-watch"}`, want: 400, field: "rule_id"},
		{op: "promoteRule", name: "no such rule", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"nope"}`, want: 404, field: "rule_id"},
		{op: "promoteRule", name: "a stale if_version", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"legacy-app","if_version":"sha256:000000000000"}`, want: 409, field: "if_version"},
		{op: "promoteRule", name: "no rule_id", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{}`, want: 400, field: "rule_id", refused: true},
		{op: "promoteRule", name: "an empty rule_id", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":""}`, want: 400, field: "rule_id", refused: true},
		{op: "promoteRule", name: "bad JSON", method: "POST", path: "/v1/rules:promote", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "promoteRule", name: "no token", method: "POST", path: "/v1/rules:promote", body: `{"rule_id":"x"}`, want: 401, refused: true},
		{op: "promoteRule", name: "the scoring token", method: "POST", path: "/v1/rules:promote", token: scoringToken, body: `{"rule_id":"x"}`, want: 403},
		{op: "promoteRule", name: "over 64 KiB", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"` + big + `"}`, want: 413},
		{op: "promoteRule", name: "text/plain", method: "POST", path: "/v1/rules:promote", token: adminToken, ctype: "text/plain", body: `{"rule_id":"x"}`, want: 415, refused: true},

		// PUT /v1/tenants/{tenant}/rules
		{op: "putTenantRules", name: "files", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: overlay, want: 200},
		{op: "putTenantRules", name: "a YAML file, If-Match", method: "PUT", path: "/v1/tenants/acme/rules?name=acme.yaml", token: adminToken, header: map[string]string{"If-Match": `"{acme}"`}, ctype: "application/yaml", body: conformanceOverlay, want: 200},
		{op: "putTenantRules", name: "a stale if_version", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: `{"if_version":"tenant:acme@sha256:000000000000",` + overlay[1:], want: 409, field: "if_version"},
		{op: "putTenantRules", name: "an overlay that does not compile", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: broken, want: 400, field: "files"},
		{op: "putTenantRules", name: "a tenant name no folder can have", method: "PUT", path: "/v1/tenants/.acme/rules", token: adminToken, body: overlay, want: 400, field: "tenant", refused: true},
		{op: "putTenantRules", name: "bad JSON", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: badJSON, want: 400, refused: true},
		{op: "putTenantRules", name: "no token", method: "PUT", path: "/v1/tenants/acme/rules", body: overlay, want: 401, refused: true},
		{op: "putTenantRules", name: "another tenant's token", method: "PUT", path: "/v1/tenants/acme/rules", token: betaToken, body: overlay, want: 403},
		{op: "putTenantRules", name: "over 4 MiB", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "putTenantRules", name: "text/plain", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, ctype: "text/plain", body: conformanceOverlay, want: 415, refused: true},

		// GET /v1/tenants/{tenant}/rules
		{op: "getTenantRules", name: "with an overlay", method: "GET", path: "/v1/tenants/acme/rules", token: acmeToken, want: 200},
		{op: "getTenantRules", name: "without one", method: "GET", path: "/v1/tenants/beta/rules", token: adminToken, want: 200},
		{op: "getTenantRules", name: "a tenant name no folder can have", method: "GET", path: "/v1/tenants/.acme/rules", token: adminToken, want: 400, field: "tenant", refused: true},
		{op: "getTenantRules", name: "no token", method: "GET", path: "/v1/tenants/acme/rules", want: 401, refused: true},
		{op: "getTenantRules", name: "another tenant's token", method: "GET", path: "/v1/tenants/acme/rules", token: betaToken, want: 403},

		// POST /v1/tenants/{tenant}/rules:validate
		{op: "validateTenantRules", name: "an overlay that compiles", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, body: overlay, want: 200},
		{op: "validateTenantRules", name: "one that does not", method: "POST", path: "/v1/tenants/acme/rules:validate?name=bad.yaml", token: acmeToken, ctype: "application/yaml", body: brokenRules, want: 200},
		{op: "validateTenantRules", name: "an attempt", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, body: `{"attempt":{"ip":"81.2.69.160"},` + overlay[1:], want: 400, field: "attempt", refused: true},
		{op: "validateTenantRules", name: "no token", method: "POST", path: "/v1/tenants/acme/rules:validate", body: overlay, want: 401, refused: true},
		{op: "validateTenantRules", name: "another tenant's token", method: "POST", path: "/v1/tenants/acme/rules:validate", token: betaToken, body: overlay, want: 403},
		{op: "validateTenantRules", name: "over 4 MiB", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "validateTenantRules", name: "text/plain", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, ctype: "text/plain", body: conformanceOverlay, want: 415, refused: true},

		// POST /v1/tenants/{tenant}/rules:promote (acme's overlay is conformanceOverlay)
		{op: "promoteTenantRule", name: "a shadow rule", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"acme-kiosk","if_version":"{acme}"}`, want: 200},
		{op: "promoteTenantRule", name: "an enforced rule", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"acme-kiosk"}`, want: 400, field: "rule_id"},
		{op: "promoteTenantRule", name: "no such rule", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"nope"}`, want: 404, field: "rule_id"},
		{op: "promoteTenantRule", name: "no overlay", method: "POST", path: "/v1/tenants/beta/rules:promote", token: betaToken, body: `{"rule_id":"x"}`, want: 404, field: "rule_id"},
		{op: "promoteTenantRule", name: "a stale If-Match", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, header: map[string]string{"If-Match": `"tenant:acme@sha256:000000000000"`}, body: `{"rule_id":"acme-night"}`, want: 409, field: "if_version"},
		{op: "promoteTenantRule", name: "no rule_id", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"if_version":"x"}`, want: 400, field: "rule_id", refused: true},
		{op: "promoteTenantRule", name: "no token", method: "POST", path: "/v1/tenants/acme/rules:promote", body: `{"rule_id":"x"}`, want: 401, refused: true},
		{op: "promoteTenantRule", name: "another tenant's token", method: "POST", path: "/v1/tenants/acme/rules:promote", token: betaToken, body: `{"rule_id":"x"}`, want: 403},
		{op: "promoteTenantRule", name: "over 64 KiB", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"` + big + `"}`, want: 413},
		{op: "promoteTenantRule", name: "text/plain", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, ctype: "text/plain", body: `{"rule_id":"x"}`, want: 415, refused: true},

		// The tenants folder gone (kept so to the end: these come last of main's).
		{op: "putTenantRules", name: "the tenants folder gone", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: overlay, want: 503, before: goneTenants},
		{op: "getTenantRules", name: "the tenants folder gone: a reload_error", method: "GET", path: "/v1/tenants/acme/rules", token: acmeToken, want: 200},
		{op: "promoteTenantRule", name: "the tenants folder gone", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"acme-night"}`, want: 503},

		// The operational routes.
		{op: "healthz", name: "live", method: "GET", path: "/healthz", want: 200},
		{op: "healthz", name: "a query", method: "GET", path: "/healthz?verbose=1", want: 400, field: "verbose"},
		{op: "readyz", name: "ready", method: "GET", path: "/readyz", want: 200},
		{op: "readyz", name: "a check failing", method: "GET", path: "/readyz", down: true, want: 503},
		{op: "readyz", name: "a query", method: "GET", path: "/readyz?verbose=1", want: 400, field: "verbose"},
		{op: "metrics", name: "every family", method: "GET", path: "/metrics", want: 200},
		{op: "metrics", name: "some families", method: "GET", path: "/metrics?name[]=riskgate_rules_version_info&name[]=go_goroutines", want: 200},
		{op: "metrics", name: "OpenMetrics", method: "GET", path: "/metrics", header: map[string]string{"Accept": "application/openmetrics-text; version=1.0.0"}, want: 200},
		{op: "metrics", name: "a query", method: "GET", path: "/metrics?name=go_goroutines", want: 400, field: "name"},

		// POST /v1/kratos/login
		{op: "kratosLogin", name: "allowed", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: kratosToken, body: kratosLogin("browser"), want: 204, before: putKratosRules},
		{op: "kratosLogin", name: "denied", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: kratosToken, body: kratosLogin("api"), want: 403},
		{op: "kratosLogin", name: "unreadable: the on-error answer", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: kratosToken, body: `{"flow_id":"f-2","identity_id":"id-1"}`, want: 403, refused: true},
		{op: "kratosLogin", name: "a query", srv: "kratos", method: "POST", path: "/v1/kratos/login?tenant=acme", token: kratosToken, body: kratosLogin("browser"), want: 400, field: "tenant"},
		{op: "kratosLogin", name: "the admin token", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: adminToken, body: kratosLogin("browser"), want: 401},
		{op: "kratosLogin", name: "no token", srv: "kratos", method: "POST", path: "/v1/kratos/login", body: kratosLogin("browser"), want: 401, refused: true},
	}
}

// TestOpenAPIUndescribedRequests: what the document has no operation for
// is answered in the error format it describes (components.schemas.Error):
// a method a path does not have is a 405 whose Allow lists the methods
// the document gives it (and HEAD with GET, as net/http serves it), an
// unknown path a 404, a path that is not in its clean form a 400.
func TestOpenAPIUndescribedRequests(t *testing.T) {
	doc, router := loadConformance(t)
	ts := startServer(t, testOpts{admin: adminToken, kratos: true})
	errSchema := doc.Components.Schemas["Error"].Value
	answer := func(method, path string) (*http.Response, string) {
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
		} else if err := errSchema.VisitJSON(v); err != nil {
			t.Errorf("%s %s: %d %s: not the document's Error: %v", method, path, resp.StatusCode, data, err)
		}
		var ae apiError
		_ = json.Unmarshal(data, &ae)
		return resp, ae.Error.Code
	}
	fill := strings.NewReplacer("{tenant}", "acme", "{user}", "u-1")
	for path, item := range doc.Paths.Map() {
		var allowed []string
		for method := range item.Operations() {
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
			resp, code := answer(method, fill.Replace(path))
			got := resp.Header.Values("Allow")
			sort.Strings(got)
			sort.Strings(allowed)
			if resp.StatusCode != http.StatusMethodNotAllowed || code != "method_not_allowed" || !slices.Equal(got, allowed) {
				t.Errorf("%s %s: %d %s, Allow %q; want 405 method_not_allowed, Allow %q", method, path, resp.StatusCode, code, got, allowed)
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
