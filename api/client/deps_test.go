package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the client light: an identity server that imports
// it links riskgate's generated protobuf code, gRPC, the circuit breaker and
// the standard library, and nothing of the server.
func TestDependencies(t *testing.T) {
	allowed := []string{
		"github.com/riskgate/riskgate/api/client",
		"github.com/riskgate/riskgate/api/gen/riskgate/v1",
		// the generated decoding of answers, shared with the server
		"github.com/riskgate/riskgate/api/internal/fastdecode",
		"github.com/sony/gobreaker/v2",
		"google.golang.org/grpc",
		"google.golang.org/protobuf",
		// the generated code's fast marshalling support (a few small helpers)
		"github.com/planetscale/vtprotobuf",
		"google.golang.org/genproto/googleapis/rpc",
		"golang.org/x/net",
		"golang.org/x/sys",
		"golang.org/x/text",
	}
	for _, pkg := range []string{"github.com/riskgate/riskgate/api/client", "github.com/riskgate/riskgate/api/client/clientprom"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		extra := allowed
		if strings.HasSuffix(pkg, "clientprom") {
			extra = append(extra, "github.com/prometheus/", "github.com/beorn7/perks", "github.com/cespare/xxhash",
				"github.com/munnerz/goautoneg", "go.yaml.in/yaml", "github.com/kylelemons/godebug")
		}
		n := 0
	next:
		for _, dep := range strings.Fields(string(out)) {
			n++
			for _, a := range extra {
				if dep == a || strings.HasPrefix(dep, strings.TrimSuffix(a, "/")+"/") || strings.HasSuffix(a, "/") && strings.HasPrefix(dep, a) {
					continue next
				}
			}
			t.Errorf("%s depends on %s", pkg, dep)
		}
		if n < 10 {
			t.Fatalf("%s: only %d dependencies listed: the check is not looking", pkg, n)
		}
	}
}
