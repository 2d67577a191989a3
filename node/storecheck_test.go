package node_test

import (
	"strings"
	"testing"

	"github.com/riskgate/riskgate/node"
)

// A --store that is neither memory nor a Redis store's URL is refused
// naming the flag and what it takes, never echoing what may be a
// password.
func TestStoreFlagChecked(t *testing.T) {
	const want = "want memory, or a Redis URL: redis://host:port, rediss://host:port (TLS), unix:///path/to/redis.sock"
	for _, tc := range []struct {
		store string
		want  string // "": accepted
	}{
		{"", ""},
		{"memory", ""},
		{"redis://127.0.0.1:6379/0", ""},
		{"rediss://user:pw@redis.example:6380", ""},
		{"unix:///run/redis.sock?db=1", ""},
		{"redis+cluster://a:1?addr=b:1", ""},
		{"rediss+sentinel://s:26379?master_name=m", ""},
		{"redis://s:26379?master_name=m&addr=t:26379", ""},
		{"Memory", `--store "Memory": ` + want},
		{"localhost:6379", `--store "localhost:6379": ` + want},
		{"redis//user:secret@host", "--store (not shown: it may hold a password): " + want},
		{"http://redis:6379", `--store "http://redis:6379": ` + want},
		// A password's special character, not encoded: the hint, not the
		// password.
		{"redis://app:se/cret@host:6379", "--store (not shown: it may hold a password): " + want},
		{"redis://app:se#cret@host:6379", "--store (not shown: it may hold a password): " + want},
	} {
		cfg := node.Config{Store: tc.store}
		cfg.MaxSpeed = 1000
		err := cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.store, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.store, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("%q: the password is in the error: %v", tc.store, err)
		case err != nil && strings.Contains(tc.store, "@") && !strings.Contains(err.Error(), "must be percent-encoded (%23 for #"):
			t.Errorf("%q: no hint to percent-encode the password: %v", tc.store, err)
		}
	}
}
