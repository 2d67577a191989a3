package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestServeAheadInitOrder: the two packages that start serve's work
// during package initialisation (serveahead: the built-in rules'
// compile; serveflags: kong's model of serve's flags) are initialised
// before kafka-go's protocol packages, the Prometheus client and gRPC,
// whose initialisation is most of what their work runs beside. Go
// initialises packages in order of import path once their imports are
// ready, so an import that makes one of them wait for net/http (the
// Prometheus client, say, in package rules) moves it after all of those
// and its work back onto the start's critical path, with nothing else
// failing: the rules package did so until 6 December.
func TestServeAheadInitOrder(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("version: %v\n%s", err, stderr.String())
	}
	// Lines read "init <package> @<ms> ms, ...", in the order run.
	order := map[string]int{}
	n := 0
	for line := range strings.Lines(stderr.String()) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		if _, ok := order[f[1]]; !ok {
			order[f[1]] = n
		}
		n++
	}
	if n < 100 {
		t.Fatalf("%d packages in the init trace: not a trace?\n%s", n, stderr.String())
	}
	const root = "github.com/riskgate/riskgate/cmd/riskgate/internal/"
	for _, early := range []string{root + "serveahead", root + "serveflags"} {
		i, ok := order[early]
		if !ok {
			t.Errorf("%s is not in the init trace", early)
			continue
		}
		for _, late := range []string{
			"github.com/segmentio/kafka-go/protocol",
			"github.com/prometheus/client_golang/prometheus",
			"google.golang.org/grpc",
		} {
			j, ok := order[late]
			if !ok {
				t.Errorf("%s is not in the init trace", late)
			} else if i > j {
				t.Errorf("%s is initialised after %s (%d > %d): see what it now waits for (go list -deps)", early, late, i, j)
			}
		}
	}
}
