package node

import (
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// offSettings is a part of the server that is off, and the settings of it
// that were given all the same.
type offSettings struct {
	msg   string   // the warning: what is off, and what turns it on
	names []string // the settings' flags
}

// settingsOff names the settings given (their value differs from the
// default) for a part that its switch leaves off: the capture without
// --capture-dir, the Kratos hook without its token, the gRPC and HTTP
// listeners without an address. A configuration file may keep them for
// the environments that turn the part on, so they are not refused; but a
// forgotten or misspelt switch would otherwise leave the part off without
// a word (as kafkaWithoutBrokers says for Kafka).
func (c *Config) settingsOff() []offSettings {
	var off []offSettings
	add := func(msg string, names []string) {
		if len(names) > 0 {
			off = append(off, offSettings{msg, names})
		}
	}
	if c.Capture.Dir == "" {
		add("capture settings ignored: the capture is off without --capture-dir", given(&c.Capture, "capture-", "Dir"))
	}
	kratos := c.Kratos.TokenFile != "" || os.Getenv(EnvKratosToken) != ""
	if !kratos {
		k := c.Kratos
		if k.Tenant == "default" {
			k.Tenant = "" // the documented meaning of empty, said in full
		}
		add("kratos settings ignored: the Kratos hook is off without --kratos-token-file or "+EnvKratosToken, given(&k, "kratos-", "TokenFile"))
	}
	if c.GRPC.Addr == "" {
		add("grpc settings ignored: there is no gRPC listener without --grpc-addr", given(&c.GRPC, "grpc-", "Addr"))
	}
	if c.HTTP.Addr == "" {
		names := given(&c.HTTP, "http-", "Addr")
		if kratos {
			// The hook is a route of the HTTP listener.
			names = append(names, "--kratos-token-file")
		}
		add("http settings ignored: there is no HTTP listener without --http-addr", names)
	}
	return off
}

// warnSettingsOff logs one warning for each part settingsOff names.
func (c *Config) warnSettingsOff(log *slog.Logger) {
	for _, o := range c.settingsOff() {
		log.Warn(o.msg, "settings", strings.Join(o.names, ","))
	}
}

// given names the flags of the settings of s (a pointer to a struct of
// kong-tagged fields, under prefix) whose value is neither the zero value
// nor their default tag: the ones set. The zero value is the default as
// node reads it for all but a bool that defaults to true, which is named
// --no-FLAG when false. Fields named in except are left out.
func given(s any, prefix string, except ...string) []string {
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	var names []string
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() || f.Tag.Get("kong") == "-" || slices.Contains(except, f.Name) {
			continue
		}
		name := f.Tag.Get("name")
		if name == "" {
			name = kebab(f.Name)
		}
		if _, ok := f.Tag.Lookup("embed"); ok && fv.Kind() == reflect.Struct {
			names = append(names, given(fv.Addr().Interface(), prefix+f.Tag.Get("prefix"))...)
			continue
		}
		def := f.Tag.Get("default")
		flag := "--" + prefix + name
		var set bool
		switch fv.Kind() {
		case reflect.Bool:
			d, _ := strconv.ParseBool(def)
			if set = fv.Bool() != d; set && d {
				flag = "--no-" + prefix + name
			}
		case reflect.String:
			set = fv.String() != "" && fv.String() != def
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			var d int64
			if f.Type == reflect.TypeFor[time.Duration]() {
				dd, _ := time.ParseDuration(def)
				d = int64(dd)
			} else {
				d, _ = strconv.ParseInt(def, 10, 64)
			}
			set = fv.Int() != 0 && fv.Int() != d
		case reflect.Float32, reflect.Float64:
			d, _ := strconv.ParseFloat(def, 64)
			set = fv.Float() != 0 && fv.Float() != d
		case reflect.Slice, reflect.Map:
			set = fv.Len() > 0
		default:
			set = !fv.IsZero()
		}
		if set {
			names = append(names, flag)
		}
	}
	return names
}

// kebab is kong's flag name of a field: MaxFileBytes max-file-bytes,
// ClientCA client-ca.
func kebab(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
