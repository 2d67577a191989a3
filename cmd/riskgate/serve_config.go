package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/internal/yamlerr"

	"github.com/riskgate/riskgate/rules"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// The serve command's configuration comes from, in order of precedence:
// flags, RISKGATE_* environment variables, the YAML file named by --config,
// and the defaults. Every flag has all three forms:
//
//   - the flag, --http-tls-cert;
//   - the variable, RISKGATE_ and the flag name in upper snake case,
//     RISKGATE_HTTP_TLS_CERT (unless the flag names its own);
//   - the key, the flag name in snake case inside the blocks of the groups
//     it belongs to: http: {tls: {cert: ...}}. A flag's yaml tag overrides
//     the last part.
//
// kong applies configuration resolvers over environment variables, so the
// resolver below steps aside for a flag whose variable is set.

// configKey is where a flag lives in the YAML file.
type configKey struct {
	path []string // blocks, then the key
}

func (k configKey) String() string { return strings.Join(k.path, ".") }

// envName is the variable of a flag without an env tag.
func envName(flag string) string {
	return "RISKGATE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// serveFlags are the serve command's own flags (not help).
func serveFlags(node *kong.Node) []*kong.Flag {
	var out []*kong.Flag
	for _, f := range node.Flags {
		if f.Name != "help" && f.Name != "config" {
			out = append(out, f)
		}
	}
	return out
}

// setEnvNames gives every flag without an env tag its RISKGATE_ variable,
// so that kong applies it (and shows it in --help).
func setEnvNames(flags []*kong.Flag) {
	for _, f := range flags {
		if len(f.Tag.Envs) == 0 {
			f.Tag.Envs = []string{envName(f.Name)}
		}
	}
}

// configKeys maps each flag to its key, by walking the command's struct:
// embedded structs with a yaml tag are blocks, kong prefixes are dropped
// from the key inside their block.
func configKeys(root reflect.Value, flags []*kong.Flag) map[*kong.Flag]configKey {
	type leaf struct {
		blocks   []string
		consumed string // the kong prefix that the blocks stand for
		yaml     string
	}
	leaves := map[uintptr]leaf{}
	var walk func(v reflect.Value, blocks []string, total, consumed string)
	walk = func(v reflect.Value, blocks []string, total, consumed string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous || f.Tag.Get("kong") == "-" {
				continue
			}
			fv := v.Field(i)
			yname, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if _, embed := f.Tag.Lookup("embed"); embed || f.Anonymous && f.Type.Kind() == reflect.Struct {
				b, tot, cons := blocks, total+f.Tag.Get("prefix"), consumed
				if yname != "" {
					b, cons = append(append([]string(nil), blocks...), yname), tot
				}
				walk(fv, b, tot, cons)
				continue
			}
			leaves[fv.Addr().Pointer()] = leaf{blocks: blocks, consumed: consumed, yaml: yname}
		}
	}
	walk(root, nil, "", "")
	out := map[*kong.Flag]configKey{}
	for _, fl := range flags {
		if !fl.Target.CanAddr() {
			continue
		}
		l, ok := leaves[fl.Target.Addr().Pointer()]
		if !ok {
			continue
		}
		name := l.yaml
		if name == "" {
			name = strings.ReplaceAll(strings.TrimPrefix(fl.Name, l.consumed), "-", "_")
		}
		out[fl] = configKey{path: append(append([]string(nil), l.blocks...), name)}
	}
	return out
}

// configFile is a parsed configuration file: a value for some flags.
type configFile struct {
	name   string
	values map[*kong.Flag]any
}

// loadConfig reads a YAML file strictly: every key must be a flag's, and
// each value of the kind its flag takes.
func loadConfig(path string, keys map[*kong.Flag]configKey) (*configFile, error) {
	data, err := filesnap.ReadSmall(path, 1<<20) // a FIFO without a writer must not hang the start
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf := &configFile{name: path, values: map[*kong.Flag]any{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return cf, nil
	}
	var doc, next yaml.Node
	docs := yaml.NewDecoder(bytes.NewReader(data))
	if err := docs.Decode(&doc); errors.Is(err, io.EOF) {
		return cf, nil // comments only
	} else if err != nil {
		if line, msg, ok := yamlerr.Line(data, err); ok {
			return nil, fmt.Errorf("config %s:%d: %s", path, line, msg)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := docs.Decode(&next); !errors.Is(err, io.EOF) {
		line := 1
		if err == nil {
			line = max(next.Line, 1)
		}
		return nil, fmt.Errorf("config %s:%d: a configuration file holds one YAML document; this \"---\" starts a second, whose settings would be ignored", path, line)
	}
	if len(doc.Content) == 0 {
		return cf, nil
	}
	byKey := map[string]*kong.Flag{}
	blocks := map[string]bool{}
	for fl, k := range keys {
		byKey[k.String()] = fl
		for i := 1; i < len(k.path); i++ {
			blocks[strings.Join(k.path[:i], ".")] = true
		}
	}
	known := make([]string, 0, len(byKey)+len(blocks))
	for k := range byKey {
		known = append(known, k)
	}
	for k := range blocks {
		known = append(known, k)
	}
	slices.Sort(known) // ties go to the first: the same answer every run
	var walk func(n *yaml.Node, prefix string) error
	walk = func(n *yaml.Node, prefix string) error {
		if n.Kind != yaml.MappingNode {
			where := "the file"
			if prefix != "" {
				where = prefix
			}
			return fmt.Errorf("config %s:%d: %s: want a mapping of keys", path, n.Line, where)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + k.Value
			}
			if first, dup := seen[k.Value]; dup {
				// yaml.v3 keeps the last into a node; a second block
				// would silently replace the first.
				return fmt.Errorf("config %s:%d: %s given twice (first at line %d)", path, k.Line, key, first)
			}
			seen[k.Value] = k.Line
			if fl, ok := byKey[key]; ok {
				if k2, line, first, dup := mappingTwice(v); dup {
					return fmt.Errorf("config %s:%d: %s: %s given twice (first at line %d)", path, line, key, k2, first)
				}
				val, err := nodeValue(v, fl)
				if err != nil {
					return fmt.Errorf("config %s:%d: %s: %w", path, v.Line, key, err)
				}
				if val != nil {
					cf.values[fl] = val
				}
				continue
			}
			if blocks[key] {
				if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
					continue // an empty block
				}
				if err := walk(v, key); err != nil {
					return err
				}
				continue
			}
			if near := rules.Nearest(key, known); near != "" {
				return fmt.Errorf("config %s:%d: unknown key %q; did you mean %q? (docs/configuration.md lists them)", path, k.Line, key, near)
			}
			return fmt.Errorf("config %s:%d: unknown key %q (docs/configuration.md lists them)", path, k.Line, key)
		}
		return nil
	}
	if err := walk(doc.Content[0], ""); err != nil {
		return nil, err
	}
	return cf, nil
}

// mappingTwice finds a key given twice in a flag's mapping (two lists
// named deny under geoip.ip_lists), and the lines of both: as a Go map
// the last would replace the first, and its file would never be read.
func mappingTwice(n *yaml.Node) (key string, line, first int, dup bool) {
	if n.Kind != yaml.MappingNode {
		return "", 0, 0, false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, dup := seen[k.Value]; dup {
			return k.Value, k.Line, first, true
		}
		seen[k.Value] = k.Line
	}
	return "", 0, 0, false
}

// nodeValue turns a YAML value into what kong's mapper for the flag
// accepts: a string for scalars (so durations, enums and paths parse as on
// the command line), a list for slices, a map for maps. A null value is
// "not set".
func nodeValue(n *yaml.Node, fl *kong.Flag) (any, error) {
	kind := fl.Target.Kind()
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		if kind == reflect.Map {
			return nil, fmt.Errorf("want a mapping")
		}
		if kind == reflect.Slice {
			return []any{n.Value}, nil
		}
		if err := checkScalar(n.Value, fl); err != nil {
			return nil, err
		}
		return n.Value, nil
	case yaml.SequenceNode:
		if kind != reflect.Slice {
			return nil, fmt.Errorf("want a single value, not a list")
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("want a list of plain values")
			}
			out = append(out, c.Value)
		}
		return out, nil
	case yaml.MappingNode:
		if kind != reflect.Map {
			return nil, fmt.Errorf("want a single value, not a mapping")
		}
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i+1].Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("want a mapping of plain values")
			}
			out[n.Content[i].Value] = n.Content[i+1].Value
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported YAML value")
}

// checkScalar checks a number or a duration of the file where it is
// read, so that a wrong one, or one the flag does not admit (a negative
// one, a duration too short: refusedValue), is named with its file and line, not as a flag the
// user never wrote (kong parses the value later, the same way).
func checkScalar(v string, fl *kong.Flag) error {
	t := fl.Target.Type()
	var err error
	var val any
	want := "a whole number"
	switch {
	case t == reflect.TypeFor[time.Duration]():
		if val, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("want a duration with its unit, such as 15s or 250ms, not %q", v)
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		val, err = strconv.ParseInt(v, 10, t.Bits())
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		_, err = strconv.ParseUint(v, 10, t.Bits())
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		val, err = strconv.ParseFloat(v, t.Bits())
		want = "a number"
	}
	if err != nil {
		return fmt.Errorf("want %s, not %q", want, v)
	}
	if val != nil {
		if why, refused := refusedValue(reflect.ValueOf(val), fl.Help); refused {
			return fmt.Errorf("%s %s", v, why)
		}
	}
	return nil
}

// resolver gives kong the file's values for flags not set on the command
// line nor by their environment variable.
func (cf *configFile) resolver() kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, fl *kong.Flag) (any, error) {
		v, ok := cf.values[fl]
		if !ok {
			return nil, nil
		}
		for _, e := range fl.Tag.Envs {
			if _, set := os.LookupEnv(e); set {
				return nil, nil // the environment overrides the file
			}
		}
		return v, nil
	})
}

// configReference renders the table of docs/configuration.md: every flag
// with its variable, key, default and help.
func configReference(flags []*kong.Flag, keys map[*kong.Flag]configKey) string {
	sorted := append([]*kong.Flag(nil), flags...)
	sort.SliceStable(sorted, func(i, j int) bool { return keys[sorted[i]].String() < keys[sorted[j]].String() })
	var b strings.Builder
	b.WriteString("| flag | environment | file key | default | meaning |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range sorted {
		def := f.Default
		if def == "" {
			def = " "
		} else {
			def = "`" + def + "`"
		}
		env := strings.Join(f.Tag.Envs, ", ")
		if env == "" {
			env = envName(f.Name)
		}
		help := strings.ReplaceAll(strings.ReplaceAll(f.Help, "|", `\|`), "\n", " ")
		fmt.Fprintf(&b, "| `--%s` | `%s` | `%s` | %s | %s |\n", f.Name, env, keys[f].String(), def, help)
	}
	return b.String()
}
