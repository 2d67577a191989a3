package main

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/riskgate/riskgate/cmd/riskgate/internal/serveflags"
)

// TestServeCLI: `riskgate serve` parsed with the model internal/serveflags
// builds (the one main parses serve with) and with the serve-only tree
// has the same help and version, so the same flags, as with the whole
// tree.
func TestServeCLI(t *testing.T) {
	var out bytes.Buffer
	opts := []kong.Option{kong.Name(serveflags.Name), kong.Description(serveflags.Description),
		kong.Vars{"version": versionString()}, kong.Writers(&out, &out), kong.Exit(func(int) {})}
	help := func(tree any, args ...string) string {
		out.Reset()
		p, err := kong.New(tree, opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Parse(args)
		return out.String()
	}
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "--version"}} {
		whole, alone := help(&cli{}, args...), help(&serveCLI{}, args...)
		if whole != alone || len(whole) < 100 && args[1] == "--help" {
			t.Errorf("%v: the serve-only tree differs:\n%s\nwhole tree:\n%s", args, alone, whole)
		}
		out.Reset()
		_, p, err := serveflags.Parser(append(serveOptions(), opts[3:]...)...)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Parse(args)
		if ahead := out.String(); ahead != whole {
			t.Errorf("%v: serveflags' model differs:\n%s\nwhole tree:\n%s", args, ahead, whole)
		}
	}
}

// TestParseServeArgs: serve's command line parsed as main parses it
// (serveflags' model, the values copied into serveCmd) gives what the
// whole tree gives, hooks and checks included.
func TestParseServeArgs(t *testing.T) {
	cfg := writeFile(t, "riskgate.yaml", "http:\n  addr: 127.0.0.1:0\nmemory:\n  max_users: 7\nalerts:\n  usernames: plain\ngeoip:\n  city: [a.mmdb, b.mmdb]\n")
	t.Setenv("RISKGATE_STORE_TIMEOUT", "70ms")
	args := []string{"--config", cfg, "--grpc-addr", "[::1]:0", "--ip-list", "deny=d.txt", "--kafka-brokers", "k1:9092,k2:9092", "--alerts-tenant-usernames", "t1=omit"}
	want, err := parseServe(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseServeArgs(append([]string{"serve"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed through serveflags:\n%+v\nthrough the whole tree:\n%+v", got, want)
	}
	if got.HTTP.Addr != "127.0.0.1:0" || got.StoreTimeout != 70*time.Millisecond || got.Memory.MaxUsers != 7 || got.Alerts.Usernames != "plain" ||
		len(got.Kafka.Brokers) != 2 || got.GeoIP.IPLists["deny"] != "d.txt" || got.GRPC.Addr != "[::1]:0" {
		t.Errorf("values lost on the way: %+v", got)
	}
	for _, bad := range [][]string{{"--max-speed=0"}, {"--store-timeout=-1s"}, {"--bogus"}} {
		_, err := parseServeArgs(append([]string{"serve"}, bad...))
		var usage usageError
		if !errors.As(err, &usage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
		_, whole := parseServe(t, bad...)
		if whole == nil && bad[0] != "--store-timeout=-1s" {
			t.Errorf("%v: the whole tree took it", bad)
		}
	}
}
