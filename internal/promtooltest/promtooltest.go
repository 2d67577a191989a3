// Package promtooltest finds Prometheus' own promtool for the tests that
// check riskgate's Prometheus artefacts with it (the dashboard's queries,
// the alerting rules, the nodes' /metrics).
package promtooltest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv makes a missing promtool a failure rather than a skip (CI
// sets it).
const RequireEnv = "RISKGATE_REQUIRE_PROMTOOL"

// Binary returns the path of promtool (Debian's prometheus package, whose
// usr/bin/promtool .ci/run extracts), skipping the test without it unless
// RequireEnv is set.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("promtool not found and %s is set: extract usr/bin/promtool from Debian's prometheus package, as .ci/run does (installing the package starts a Prometheus server)", RequireEnv)
		}
		t.Skipf("promtool not installed (Debian's prometheus package; %s=1 makes this a failure)", RequireEnv)
	}
	return path
}
