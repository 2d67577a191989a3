package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesPromoteFlags: an empty --tenant (a script's unset variable)
// and the flags the chosen way of promoting would ignore are refused
// before anything is written, naming the flags; the shared rule stays
// in shadow.
func TestRulesPromoteFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "trial.yaml")
	if err := os.WriteFile(file, []byte(trial), 0o644); err != nil {
		t.Fatal(err)
	}
	tenants := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string // "" : accepted
	}{
		{"empty tenant, files", []string{"on-trial", "--tenant", "", "--rules-tenants", tenants, "--rules", file}, "--tenant: empty"},
		{"empty tenant, server", []string{"on-trial", "--tenant=", "--server", "http://127.0.0.1:1"}, "--tenant: empty"},
		{"rules with server", []string{"on-trial", "--server", "http://127.0.0.1:1", "--rules", file}, "--rules: not with --server"},
		{"rules-tenants with server", []string{"on-trial", "--server", "http://127.0.0.1:1", "--tenant", "acme", "--rules-tenants", tenants}, "--rules-tenants: not with --server"},
		{"rules-tenants without tenant", []string{"on-trial", "--rules-tenants", tenants, "--rules", file}, "--rules-tenants: only with --tenant"},
		{"token-file without server", []string{"on-trial", "--token-file", file, "--rules", file}, "--token-file: only with --server"},
		{"server without scheme", []string{"on-trial", "--server", "127.0.0.1:1234"}, "include http:// or https://"},
		{"server without scheme, name", []string{"on-trial", "--server", "localhost:1234"}, "include http:// or https://"},
		{"server without a host", []string{"on-trial", "--server", "http://"}, `--server: "http://": no host: want http://host:port`},
		{"server of another scheme", []string{"on-trial", "--server", "ftp://h"}, `--server: "ftp://h": want http:// or https://, not ftp://`},
		{"server with a query", []string{"on-trial", "--server", "http://h:1?a=b"}, `--server: "http://h:1?a=b": give the server's address alone, without ?a=b`},
		{"server with a fragment", []string{"on-trial", "--server", "http://h:1/#x"}, `--server: "http://h:1/#x": give the server's address alone, without #x`},
		{"server", []string{"on-trial", "--server", "https://riskgate.example:8080/"}, ""},
		{"tenant with server", []string{"on-trial", "--server", "http://127.0.0.1:1", "--tenant", "acme"}, ""},
		{"files", []string{"on-trial", "--rules", file}, ""},
	} {
		_, err := parse(context.Background(), append([]string{"rules", "promote"}, tc.args...))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if data, _ := os.ReadFile(file); string(data) != trial {
		t.Fatalf("the shared rule file was edited:\n%s", data)
	}
}
