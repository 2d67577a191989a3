package serveflags

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/alecthomas/kong"
)

// MapOnce is the mapper of NAME=VALUE flags (map[string]string: --ip-list,
// --tenant-usernames) for every kong model of riskgate's commands. It
// refuses a name given twice, in one value (deny=a;deny=b) or in two
// flags: kong's own mapper kept the last, so of a deny list given as two
// --ip-list deny=FILE only the second file was read, and nothing said so.
// The configuration file's mappings are checked where they are read
// (serve's loadConfig), with their lines.
var MapOnce = kong.TypeMapper(reflect.TypeFor[map[string]string](), kong.MapperFunc(decodeMapOnce))

func decodeMapOnce(ctx *kong.DecodeContext, target reflect.Value) error {
	if target.IsNil() {
		target.Set(reflect.MakeMap(target.Type()))
	}
	m := target.Interface().(map[string]string)
	var tokens []string
	if ctx.Value.Flag != nil {
		t := ctx.Scan.Pop()
		if t.IsEOL() {
			return fmt.Errorf("missing value, expecting \"<key>=<value>%c...\"", ctx.Value.Tag.MapSep)
		}
		switch v := t.Value.(type) {
		case string:
			tokens = kong.SplitEscaped(v, ctx.Value.Tag.MapSep)
		case map[string]any: // from the configuration file
			for k, v := range v {
				s, ok := v.(string)
				if !ok {
					return fmt.Errorf("%s: want a plain value, not %T", k, v)
				}
				m[k] = s
			}
			return nil
		default:
			return fmt.Errorf("invalid map value %q (of type %T)", t, t.Value)
		}
	} else {
		for _, t := range ctx.Scan.PopWhile(func(t kong.Token) bool { return t.IsValue() }) {
			tokens = append(tokens, t.String())
		}
	}
	for _, tok := range tokens {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			return fmt.Errorf("expected \"<key>=<value>\" but got %q", tok)
		}
		if old, dup := m[k]; dup {
			return fmt.Errorf("%s given twice (%s and %s)", k, old, v)
		}
		m[k] = v
	}
	return nil
}
