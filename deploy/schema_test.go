package deploy_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The Kubernetes schemas are the official OpenAPI v3 documents of the
// Kubernetes release below (api/openapi-spec/v3 in the k8s.io/kubernetes
// module), cut to the types the manifests use and what they reference, so
// that no test needs the network. To move to another release:
//
//	go mod download -json k8s.io/kubernetes@v1.34.3     # prints its Dir
//	K8S_OPENAPI_DIR=$DIR/api/openapi-spec/v3 go test ./deploy -run TestSchemaSubset -update-schemas
const (
	k8sRelease = "v1.34.3"
	schemaFile = "testdata/k8s-openapi/" + "v1.34.3-subset.json"
)

var updateSchemas = flag.Bool("update-schemas", false, "rewrite the Kubernetes schema subset from $K8S_OPENAPI_DIR")

// kinds are the manifests' types: apiVersion/kind to schema name.
var kinds = map[string]string{
	"apps/v1/Deployment":            "io.k8s.api.apps.v1.Deployment",
	"v1/Service":                    "io.k8s.api.core.v1.Service",
	"v1/ConfigMap":                  "io.k8s.api.core.v1.ConfigMap",
	"v1/Secret":                     "io.k8s.api.core.v1.Secret",
	"policy/v1/PodDisruptionBudget": "io.k8s.api.policy.v1.PodDisruptionBudget",
}

// TestSchemaSubset rewrites the subset with -update-schemas; otherwise it
// checks that the subset holds every kind the manifests use.
func TestSchemaSubset(t *testing.T) {
	if !*updateSchemas {
		schemas := loadSubset(t)
		for gvk, name := range kinds {
			if schemas[name] == nil {
				t.Errorf("%s: %s missing from %s (regenerate it)", gvk, name, schemaFile)
			}
		}
		return
	}
	dir := os.Getenv("K8S_OPENAPI_DIR")
	if dir == "" {
		t.Fatal("set K8S_OPENAPI_DIR to the k8s.io/kubernetes module's api/openapi-spec/v3")
	}
	all := map[string]any{}
	for _, f := range []string{"api__v1_openapi.json", "apis__apps__v1_openapi.json", "apis__policy__v1_openapi.json"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, v := range doc.Components.Schemas {
			all[k] = v
		}
	}
	keep := map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if ref, ok := x.(string); ok && k == "$ref" {
					name := ref[strings.LastIndexByte(ref, '/')+1:]
					if keep[name] == nil {
						keep[name] = all[name]
						walk(all[name])
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, name := range kinds {
		if all[name] == nil {
			t.Fatalf("%s not in the OpenAPI documents", name)
		}
		keep[name] = all[name]
		walk(all[name])
	}
	out, err := json.MarshalIndent(map[string]any{
		"info":       map[string]any{"title": "Kubernetes " + k8sRelease + " (subset)", "version": k8sRelease},
		"openapi":    "3.0.0",
		"components": map[string]any{"schemas": keep},
	}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(schemaFile, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadSubset(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas
}

// validators compiles a strict validator per kind: as kubeconform's
// -strict, an object with declared properties accepts no others (a typo in
// a field name is an error, not a field the API server drops silently), and
// IntOrString accepts either.
func validators(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	schemas := loadSubset(t)
	for _, s := range schemas {
		strict(s)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("k8s.json", map[string]any{"components": map[string]any{"schemas": schemas}}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for gvk, name := range kinds {
		s, err := c.Compile("k8s.json#/components/schemas/" + name)
		if err != nil {
			t.Fatalf("compiling %s: %v", name, err)
		}
		out[gvk] = s
	}
	return out
}

func strict(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["properties"]; ok {
			_, has := v["additionalProperties"]
			if preserve, _ := v["x-kubernetes-preserve-unknown-fields"].(bool); !has && !preserve {
				v["additionalProperties"] = false
			}
		}
		for _, x := range v {
			strict(x)
		}
	case []any:
		for _, x := range v {
			strict(x)
		}
	}
}

// validate checks one manifest object (decoded from YAML, re-encoded as
// JSON so that numbers are JSON numbers).
func validate(vs map[string]*jsonschema.Schema, obj map[string]any) error {
	gvk := fmt.Sprint(obj["apiVersion"], "/", obj["kind"])
	s := vs[gvk]
	if s == nil {
		known := make([]string, 0, len(vs))
		for k := range vs {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("%s: no schema (known: %v)", gvk, known)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}
