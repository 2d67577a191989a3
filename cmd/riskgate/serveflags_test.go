package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/alecthomas/kong"

	"github.com/riskgate/riskgate/cmd/riskgate/internal/serveflags"
)

const serveFlagsFile = "internal/serveflags/flags.go"

// serveCLI is cli with serve alone: the tree internal/serveflags' copy is
// generated from (the same command, flags and help: TestServeCLI).
type serveCLI struct {
	Serve       serveCmd         `cmd:"" help:"Run the service: gRPC and HTTP/JSON APIs, metrics, live rules."`
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`
}

// TestServeFlagsMirror: internal/serveflags holds a copy of serve's
// command types, for kong's model to be built before node is initialised.
// The copy must have main's fields, types and tags in main's order (the
// flags, help, defaults and configuration keys are read from them, and
// serveFlags copies the values by position), so it is generated from
// main's types; -update rewrites it.
func TestServeFlagsMirror(t *testing.T) {
	src, err := mirrorSource(reflect.TypeFor[serveCLI]())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(serveFlagsFile, src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(serveFlagsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, src) {
		t.Errorf("%s is not a copy of serve's command types; regenerate it: go test ./cmd/riskgate -run 'TestConfigurationDocs|TestServeFlagsMirror' -update", serveFlagsFile)
	}
	// The generated types are the ones compiled in.
	if err := sameShape(reflect.TypeFor[serveflags.CLI](), reflect.TypeFor[serveCLI](), "CLI"); err != nil {
		t.Error(err)
	}
}

// sameShape reports the first field where a and b differ in name, tag or
// kind, recursively: what copyFlags relies on.
func sameShape(a, b reflect.Type, at string) error {
	if a.Kind() != b.Kind() {
		return fmt.Errorf("%s: %v against %v", at, a, b)
	}
	if a.Kind() != reflect.Struct || a.PkgPath() == b.PkgPath() {
		if a.Kind() != reflect.Struct && a != b {
			return fmt.Errorf("%s: %v against %v", at, a, b)
		}
		return nil
	}
	if a.NumField() != b.NumField() {
		return fmt.Errorf("%s: %d fields against %d", at, a.NumField(), b.NumField())
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Tag != fb.Tag {
			return fmt.Errorf("%s: field %d is %s %q against %s %q", at, i, fa.Name, fa.Tag, fb.Name, fb.Tag)
		}
		if err := sameShape(fa.Type, fb.Type, at+"."+fa.Name); err != nil {
			return err
		}
	}
	return nil
}

// mirrorSource writes the Go source of serveflags' copy of root and the
// struct types it holds. Types of other packages that are not structs
// (time.Duration) and struct types of the standard library or kong are
// used as they are.
func mirrorSource(root reflect.Type) ([]byte, error) {
	names := map[reflect.Type]string{}
	taken := map[string]bool{}
	imports := map[string]bool{}
	var queue []reflect.Type
	name := func(t reflect.Type) string {
		if n, ok := names[t]; ok {
			return n
		}
		n := strings.TrimPrefix(t.Name(), "serve")
		if n == "Cmd" {
			n = "Serve"
		}
		if taken[n] {
			p := []rune(path.Base(t.PkgPath()))
			p[0] = unicode.ToUpper(p[0])
			n = string(p) + n
		}
		names[t], taken[n] = n, true
		queue = append(queue, t)
		return n
	}
	var typeOf func(t reflect.Type) (string, error)
	typeOf = func(t reflect.Type) (string, error) {
		switch {
		case t.Kind() == reflect.Slice:
			e, err := typeOf(t.Elem())
			return "[]" + e, err
		case t.Kind() == reflect.Map:
			k, err := typeOf(t.Key())
			if err != nil {
				return "", err
			}
			e, err := typeOf(t.Elem())
			return "map[" + k + "]" + e, err
		case t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface || t.Kind() == reflect.Func || t.Kind() == reflect.Chan:
			return "", fmt.Errorf("serve's flags: a %v field: kong's model would differ from the copy", t)
		case t.PkgPath() == "":
			return t.Name(), nil
		case t.Kind() == reflect.Struct && !strings.Contains(t.PkgPath(), ".") || t.PkgPath() == "github.com/alecthomas/kong":
			imports[t.PkgPath()] = true
			return t.String(), nil
		case t.Kind() == reflect.Struct:
			return name(t), nil
		case !strings.Contains(t.PkgPath(), "."):
			imports[t.PkgPath()] = true
			return t.String(), nil
		}
		return "", fmt.Errorf("serve's flags: a field of type %v, of a package that is not the standard library's", t)
	}
	// Kong calls these on the values it parses into; the copy has none,
	// so parseServeArgs calls the ones main's types have, and no other.
	// (Methods promoted from an embedded struct are checked at its type.)
	called := map[string][]string{"serveCmd": {"BeforeReset", "BeforeResolve", "Run"}, "EngineConfig": {"Validate"}}
	declared := func(t reflect.Type, m string) bool {
		if _, ok := reflect.PointerTo(t).MethodByName(m); !ok {
			return false
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.Anonymous {
				if _, ok := reflect.PointerTo(f.Type).MethodByName(m); ok {
					return false
				}
			}
		}
		return true
	}
	var body bytes.Buffer
	name(root)
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		fmt.Fprintf(&body, "// %s mirrors %s.\ntype %s struct {\n", names[t], t, names[t])
		for _, m := range []string{"BeforeReset", "BeforeResolve", "BeforeApply", "AfterApply", "Validate", "Decode", "Help", "Run"} {
			if declared(t, m) && !slices.Contains(called[t.Name()], m) {
				return nil, fmt.Errorf("serve's flags: kong would call %s's %s, which parseServeArgs does not", t, m)
			}
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				return nil, fmt.Errorf("serve's flags: %s.%s is not exported: kong leaves it out, the copy cannot have it", t, f.Name)
			}
			ft, err := typeOf(f.Type)
			if err != nil {
				return nil, err
			}
			tag := "`" + string(f.Tag) + "`"
			if strings.Contains(string(f.Tag), "`") {
				tag = strconv.Quote(string(f.Tag))
			}
			if f.Anonymous && ft == f.Name {
				fmt.Fprintf(&body, "\t%s %s\n", ft, tag)
			} else {
				fmt.Fprintf(&body, "\t%s %s %s\n", f.Name, ft, tag)
			}
		}
		body.WriteString("}\n\n")
	}
	var out bytes.Buffer
	out.WriteString("// Code generated by TestServeFlagsMirror (go test ./cmd/riskgate -run TestServeFlagsMirror -update); DO NOT EDIT.\n\n")
	out.WriteString("package serveflags\n\nimport (\n")
	var std, other []string
	for p := range imports {
		if strings.Contains(p, ".") {
			other = append(other, p)
		} else {
			std = append(std, p)
		}
	}
	slices.Sort(std)
	slices.Sort(other)
	for i, group := range [][]string{std, other} {
		if i > 0 && len(std) > 0 && len(other) > 0 {
			out.WriteString("\n")
		}
		for _, p := range group {
			fmt.Fprintf(&out, "\t%q\n", p)
		}
	}
	out.WriteString(")\n\n")
	out.Write(body.Bytes())
	return format.Source(out.Bytes())
}
