package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// example is one example value of api/openapi.yaml and the schema it
// illustrates.
type example struct {
	where  string // a path in the document, for the message
	value  any
	schema *openapi3.Schema
	// request: the example is of something a client sends (validated as
	// a request: readOnly properties refused); else of an answer.
	request bool
}

// documentExamples are every example and examples value of the document:
// of parameters, request bodies and answers (their media types and
// headers), and of schemas, reached from the operations and the
// components.
func documentExamples(doc *openapi3.T) []example {
	var out []example
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, s *openapi3.SchemaRef, request bool)
	walk = func(where string, ref *openapi3.SchemaRef, request bool) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if s.Example != nil {
			out = append(out, example{where + " example", s.Example, s, request})
		}
		for _, name := range componentNames(s.Properties) {
			walk(where+"."+name, s.Properties[name], request)
		}
		walk(where+"[]", s.Items, request)
		walk(where+"{}", s.AdditionalProperties.Schema, request)
		for i, sub := range slices.Concat(s.AllOf, s.AnyOf, s.OneOf) {
			walk(fmt.Sprintf("%s/%d", where, i), sub, request)
		}
		walk(where+"!", s.Not, request)
	}
	seenMedia := map[*openapi3.MediaType]bool{} // a shared response's, once
	media := func(where string, content openapi3.Content, request bool) {
		for _, mt := range componentNames(content) {
			m := content[mt]
			if m.Schema == nil || seenMedia[m] {
				continue
			}
			seenMedia[m] = true
			if m.Example != nil {
				out = append(out, example{where + " " + mt + " example", m.Example, m.Schema.Value, request})
			}
			for _, name := range componentNames(m.Examples) {
				out = append(out, example{where + " " + mt + " examples." + name, m.Examples[name].Value.Value, m.Schema.Value, request})
			}
			walk(where+" "+mt, m.Schema, request)
		}
	}
	param := func(where string, p *openapi3.Parameter, request bool) {
		if p.Schema == nil {
			media(where, p.Content, request)
			return
		}
		if p.Example != nil {
			out = append(out, example{where + " example", p.Example, p.Schema.Value, request})
		}
		for _, name := range componentNames(p.Examples) {
			out = append(out, example{where + " examples." + name, p.Examples[name].Value.Value, p.Schema.Value, request})
		}
		walk(where, p.Schema, request)
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			where := method + " " + path
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				param(where+" parameter "+p.Value.Name, p.Value, true)
			}
			if op.RequestBody != nil {
				media(where+" request", op.RequestBody.Value.Content, true)
			}
			for code, r := range op.Responses.Map() {
				media(where+" "+code, r.Value.Content, false)
				for _, h := range componentNames(r.Value.Headers) {
					param(where+" "+code+" header "+h, &r.Value.Headers[h].Value.Parameter, false)
				}
			}
		}
	}
	// Schemas no operation uses (yet) are held to their examples too; a
	// schema already seen through an operation keeps the direction found
	// there.
	for _, name := range componentNames(doc.Components.Schemas) {
		walk("components.schemas."+name, doc.Components.Schemas[name], false)
	}
	return out
}

// componentNames are a map's keys in order, for messages in a stable order.
func componentNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// TestOpenAPIExamplesValid: every example of api/openapi.yaml validates
// against the schema it illustrates, formats included (a date-time that is
// not one), and the document validates with examples checked (which
// kin-openapi does by default; asked for here so that a change of default
// cannot turn it off unseen). An example is what integrators copy: one
// the server would refuse, or that its answers never look like, misleads
// them.
func TestOpenAPIExamplesValid(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	// Not loadOpenAPI, which stops at the first error of Validate: the
	// walk below names every example that is wrong.
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Errorf("api/openapi.yaml with its examples: %v", err)
	}
	examples := documentExamples(doc)
	var requests, answers int
	for _, ex := range examples {
		opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.EnableFormatValidation()}
		if ex.request {
			opts = append(opts, openapi3.VisitAsRequest())
			requests++
		} else {
			opts = append(opts, openapi3.VisitAsResponse())
			answers++
		}
		if err := ex.schema.VisitJSON(ex.value, opts...); err != nil {
			t.Errorf("%s: not valid against its schema: %v", ex.where, err)
		}
	}
	// The document has examples of both kinds: a walk that found none
	// would pass whatever the examples say.
	if requests == 0 || answers == 0 {
		t.Fatalf("found %d request and %d answer examples: the walk of the document misses them", requests, answers)
	}
	t.Logf("%d request and %d answer examples", requests, answers)
}

// TestOpenAPIExamplesAreServed: the request body examples are requests the
// server takes (each operation's success), and an answer example of an
// error is the answer the server gives to the request it describes.
func TestOpenAPIExamplesAreServed(t *testing.T) {
	doc := loadOpenAPI(t)
	ts := startServer(t, testOpts{admin: adminToken})
	sent := 0
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			if op.RequestBody == nil {
				continue
			}
			m := op.RequestBody.Value.Content.Get("application/json")
			if m == nil || m.Example == nil {
				continue
			}
			body, err := json.Marshal(m.Example)
			if err != nil {
				t.Fatal(err)
			}
			var raw json.RawMessage
			code := httpDo(t, nil, method, ts.url(path), adminToken, string(body), &raw)
			ok := false
			for c := range op.Responses.Map() {
				ok = ok || strings.HasPrefix(c, "2") && fmt.Sprint(code) == c
			}
			if !ok {
				t.Errorf("%s %s with the document's example %s: %d %s", method, path, body, code, raw)
			}
			sent++
		}
	}
	if sent == 0 {
		t.Fatal("no request body example sent: the document has one for POST /v1/score")
	}

	// components.responses.BadRequest's example: the answer to an attempt
	// without its address.
	want := doc.Components.Responses["BadRequest"].Value.Content.Get("application/json").Example
	var got any
	if code := httpDo(t, nil, http.MethodPost, ts.url("/v1/score"), "", `{"user_id":"u-42"}`, &got); code != http.StatusBadRequest || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("BadRequest's example is %v; the server answers an attempt without ip %d %v", want, code, got)
	}
}
