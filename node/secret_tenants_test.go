package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadTenantTokens(t *testing.T) {
	write := func(data string) string {
		f := filepath.Join(t.TempDir(), "tenants")
		if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	got, err := readTenantTokens(write("# comment\n\nacme  acme-token-0123456789\nbeta beta-token-0123456789\n"), []byte("admin-token-0123456789"), nil)
	if err != nil || len(got) != 2 || string(got["acme"]) != "acme-token-0123456789" {
		t.Fatalf("%v %v", got, err)
	}
	for _, tc := range []struct{ data, want string }{
		{"acme\n", ":1: want \"TENANT TOKEN\""},
		{"../x long-enough-token-0123\n", ":1: tenant"},
		{"acme short\n", "shorter than"},
		{"acme acme-token-0123456789\nacme other-token-0123456789\n", ":2: tenant acme given twice"},
		{"acme same-token-0123456789\nbeta same-token-0123456789\n", "has the token of tenant acme"},
		{"acme admin-token-0123456789\n", "the admin or scoring token"},
	} {
		_, err := readTenantTokens(write(tc.data), []byte("admin-token-0123456789"), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.data, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789") {
			t.Errorf("%q: the error shows a token: %v", tc.data, err)
		}
	}
}
