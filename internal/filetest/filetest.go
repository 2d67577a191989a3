// Package filetest changes files under a running node's feet, for tests
// of what re-reads them, and follows the file watch's reloads (Watch).
package filetest

import (
	"os"
	"testing"
)

// Replace puts data at path replaced whole: written beside it, then
// renamed over it, as cert-manager, a Kubernetes secret volume or a
// careful updater does, so that no reader ever sees half of it.
func Replace(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".filetest-tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Copy replaces to with a copy of from (see Replace).
func Copy(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	Replace(t, to, data)
}
