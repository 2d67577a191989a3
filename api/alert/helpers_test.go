package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// t0 is the time of the first attempt of every scenario.
var t0 = time.Date(2026, 5, 9, 11, 0, 0, 0, time.UTC)

// stuffing is a credential-stuffing run: n failed logins for n different
// usernames from one address, a second apart, all with the same password.
// From the 10th the default rules deny and alert (stuffing-address-burst),
// and from the 5th the password spray rule alerts.
func stuffing(tenant string, n int) []engine.Attempt {
	out := make([]engine.Attempt, n)
	for i := range out {
		out[i] = engine.Attempt{
			Tenant: tenant, AttemptID: fmt.Sprintf("%s-a%03d", tenant, i), Time: t0.Add(time.Duration(i) * time.Second),
			UserID: fmt.Sprintf("u-%d", i), Username: fmt.Sprintf("  User%d@Example.com ", i), IP: "203.0.113.7",
			UserAgent: "python-requests/2.31", DeviceID: "dev-1", PasswordSHA1: "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
			Result: engine.ResultPasswordBad, Attributes: map[string]string{"app": "portal"},
		}
	}
	return out
}

// testEngine is an engine with the rules of testdata/rules.yaml and
// deterministic decision ids.
func testEngine(t testing.TB, observers ...engine.Observer) *engine.Engine {
	t.Helper()
	srcs, err := rules.LoadFiles(filepath.Join("testdata", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	return NewTestEngine(t, engine.Options{
		Rules:     set,
		Observers: observers,
		NewID:     func(time.Time) string { return fmt.Sprintf("d%05d", n.Add(1)) },
	})
}

// defaultEngine is the engine with the default rules.
func defaultEngine(t testing.TB) *engine.Engine {
	return NewTestEngine(t, engine.Options{})
}

func testKeyer(t testing.TB) *engine.Keyer {
	k, err := engine.NewKeyer([]byte(TestSecret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testBuilder(t testing.TB, opts BuilderOptions) *Builder {
	t.Helper()
	if opts.Keyer == nil {
		opts.Keyer = testKeyer(t)
	}
	b, err := NewBuilder(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decisions scores the attempts in order.
func decisions(t testing.TB, e *engine.Engine, as []engine.Attempt) []engine.Decision {
	t.Helper()
	out := make([]engine.Decision, len(as))
	for i, a := range as {
		d, err := e.Score(context.Background(), a)
		if err != nil {
			t.Fatalf("score %d: %v", i, err)
		}
		out[i] = d
	}
	return out
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("alert.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("alert.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validate checks one JSON document against the schema.
func validate(s *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonIndent(dst *bytes.Buffer, src []byte) error {
	if err := json.Indent(dst, src, "", "  "); err != nil {
		return err
	}
	dst.WriteByte('\n')
	return nil
}
