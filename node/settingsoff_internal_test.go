package node

import (
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// withDefaults sets every field of the struct s points to to its default
// tag, as the command line does.
func withDefaults(t *testing.T, s any) {
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f, fv := v.Type().Field(i), v.Field(i)
		if fv.Kind() == reflect.Struct {
			withDefaults(t, fv.Addr().Interface())
			continue
		}
		def, ok := f.Tag.Lookup("default")
		if !ok {
			continue
		}
		var err error
		switch fv.Kind() {
		case reflect.Bool:
			var b bool
			b, err = strconv.ParseBool(def)
			fv.SetBool(b)
		case reflect.String:
			fv.SetString(def)
		case reflect.Int, reflect.Int64:
			var n int64
			if f.Type == reflect.TypeFor[time.Duration]() {
				var d time.Duration
				d, err = time.ParseDuration(def)
				n = int64(d)
			} else {
				n, err = strconv.ParseInt(def, 10, 64)
			}
			fv.SetInt(n)
		}
		if err != nil {
			t.Fatalf("%s: default %q: %v", f.Name, def, err)
		}
	}
}

// A capture, Kratos or listener setting given while its switch leaves the
// part off is warned of at start, naming the settings (a configuration
// file may keep them for other environments, so they are not refused);
// settings at their default, and parts that are on, are not.
func TestSettingsOffWarned(t *testing.T) {
	t.Setenv(EnvKratosToken, "")
	os.Unsetenv(EnvKratosToken)
	docs, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want []string // the warnings' lines, in order; none: no warning
	}{
		{"defaults", func(c *Config) {}, nil},
		{"capture on", func(c *Config) { c.Capture.Dir = "/var/lib/riskgate"; c.Capture.Retention = time.Hour }, nil},
		{"capture off", func(c *Config) {
			c.Capture.Retention, c.Capture.Compress, c.Capture.MaxFileBytes, c.Capture.BacktestTimeout = time.Hour, false, 1<<20, time.Minute
		}, []string{`msg="capture settings ignored: the capture is off without --capture-dir" settings=--no-capture-compress,--capture-max-file-bytes,--capture-retention,--capture-backtest-timeout`}},
		{"capture at its defaults given", func(c *Config) { c.Capture.MaxFileAge = time.Hour }, nil},
		{"kratos off", func(c *Config) { c.Kratos.Tenant, c.Kratos.OnError = "acme", "deny" },
			[]string{`msg="kratos settings ignored: the Kratos hook is off without --kratos-token-file or RISKGATE_KRATOS_TOKEN" settings=--kratos-tenant,--kratos-on-error`}},
		{"kratos on", func(c *Config) { c.Kratos.Tenant, c.Kratos.TokenFile = "acme", "/run/kratos" }, nil},
		// "default" is what an empty tenant means: said in full, not set.
		{"kratos off, its tenant the default said", func(c *Config) { c.Kratos.Tenant, c.Kratos.StepUp = "default", "interrupt" }, nil},
		// The hook is a route of the HTTP listener.
		{"kratos on, http off", func(c *Config) { c.Kratos.TokenFile, c.HTTP.Addr = "/run/kratos", "" },
			[]string{`msg="http settings ignored: there is no HTTP listener without --http-addr" settings=--kratos-token-file`}},
		{"grpc off", func(c *Config) { c.GRPC.Addr, c.GRPC.Reflection, c.GRPC.TLS.ClientCA = "", false, "ca.pem" },
			[]string{`msg="grpc settings ignored: there is no gRPC listener without --grpc-addr" settings=--no-grpc-reflection,--grpc-tls-client-ca`}},
		{"grpc off, reflection at its default", func(c *Config) { c.GRPC.Addr = "" }, nil},
		{"http off", func(c *Config) { c.HTTP.Addr, c.HTTP.TLS.Cert, c.HTTP.TLS.ClientAuth = "", "c.pem", "require" },
			[]string{`msg="http settings ignored: there is no HTTP listener without --http-addr" settings=--http-tls-cert,--http-tls-client-auth`}},
		{"two parts", func(c *Config) { c.Capture.Buffer, c.Kratos.StepUp = 10, "allow" }, []string{
			`msg="capture settings ignored: the capture is off without --capture-dir" settings=--capture-buffer`,
			`msg="kratos settings ignored: the Kratos hook is off without --kratos-token-file or RISKGATE_KRATOS_TOKEN" settings=--kratos-step-up`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			withDefaults(t, &c)
			tc.set(&c)
			var log syncbuf.Buffer
			c.warnSettingsOff(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})))
			var got []string
			for l := range strings.Lines(log.String()) {
				_, rest, _ := strings.Cut(strings.TrimSpace(l), "level=WARN ")
				got = append(got, rest)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("warnings:\n%q\nwant\n%q", got, tc.want)
			}
			for _, o := range c.settingsOff() {
				for _, name := range o.names {
					flag := "--" + strings.TrimPrefix(strings.TrimPrefix(name, "--"), "no-")
					if !strings.Contains(string(docs), "`"+flag+"`") {
						t.Errorf("%s is no flag of docs/configuration.md", flag)
					}
				}
			}
		})
	}
}
