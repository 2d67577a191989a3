package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/riskgate/riskgate/node"
)

// loadOpenAPI loads api/openapi.yaml with kin-openapi and validates it
// against the OpenAPI 3 specification (issue 10 item 13): a flow map with
// a stray key, a broken $ref, a bad schema fail here.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("api/openapi.yaml is not valid OpenAPI: %v", err)
	}
	return doc
}

func TestOpenAPIValid(t *testing.T) {
	doc := loadOpenAPI(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s %s: no operationId or no responses", method, path)
			}
		}
	}
}

// TestOpenAPIMatchesServedRoutes: every route the server registers is
// found by the document's router, with its method, and every operation of
// the document is a served route (TestOpenAPIDescribesEveryRoute compares
// the two sets by pattern); the answers of the server to a few requests
// validate against the document's responses.
func TestOpenAPIMatchesServedRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	doc.Servers = nil // match the test server's address, not the documented one
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, testOpts{admin: adminToken})
	for _, r := range ts.srv.Routes() {
		method, path, _ := strings.Cut(r.Pattern(), " ")
		path = strings.NewReplacer("{tenant}", "default", "{user}", "u-1").Replace(path)
		req, _ := http.NewRequest(method, "http://localhost"+path, nil)
		if _, _, err := router.FindRoute(req); err != nil {
			t.Errorf("served %s is not in api/openapi.yaml: %v", r.Pattern(), err)
		}
	}

	// Real answers validate against the document.
	for _, tc := range []struct {
		method, path, body string
		auth               bool
	}{
		{"POST", "/v1/score", `{"user_id":"u-1","ip":"81.2.69.160","result":"password_ok"}`, false},
		{"POST", "/v1/score", `{"ip":"81.2.69.999"}`, false},
		{"POST", "/v1/outcome", `{"decision_id":"nope","outcome":"login_failed"}`, false},
		{"GET", "/v1/rules", "", true},
		{"GET", "/readyz", "", false},
	} {
		req, _ := http.NewRequest(tc.method, ts.url(tc.path), strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if tc.auth {
			req.Header.Set("Authorization", "Bearer "+adminToken)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: resp.Body,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s: the answer (%d) does not match api/openapi.yaml: %v", tc.method, tc.path, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}

// TestOpenAPIListsEachRoutesQuery: the query parameters api/openapi.yaml
// lists for an operation are those its route takes (httpapi.Route.Query:
// any other is refused), an array one being one that may be repeated,
// the Kratos hook's (served only when configured) included.
func TestOpenAPIListsEachRoutesQuery(t *testing.T) {
	doc := loadOpenAPI(t)
	ts := startServer(t, testOpts{admin: adminToken})
	token := filepath.Join(t.TempDir(), "kratos")
	if err := os.WriteFile(token, []byte("kratos-hook-token-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	kratos, err := node.KratosRoutes(&node.Config{Kratos: node.KratosConfig{TokenFile: token}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	routes := append(ts.srv.Routes(), kratos(nil)...)
	if len(routes) < 18 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		item := doc.Paths.Value(r.Path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s: not in api/openapi.yaml", r.Pattern())
			continue
		}
		var described []string
		for _, p := range append(item.Parameters, item.GetOperation(r.Method).Parameters...) {
			if p.Value.In == openapi3.ParameterInQuery {
				described = append(described, fmt.Sprintf("%s repeated=%v", p.Value.Name, p.Value.Schema.Value.Type.Is(openapi3.TypeArray)))
			}
		}
		var taken []string
		for _, p := range r.Query {
			taken = append(taken, fmt.Sprintf("%s repeated=%v", p.Name, p.Repeated))
		}
		slices.Sort(described)
		slices.Sort(taken)
		if !slices.Equal(described, taken) {
			t.Errorf("%s: takes %q, api/openapi.yaml lists %q", r.Pattern(), taken, described)
		}
	}
}
