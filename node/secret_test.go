package node_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/node"
)

// A secret that cannot be used stops the start with an error naming the
// setting it came from (the flag, or the variable), never the secret.
func TestSecretErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("tiny-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		env  map[string]string
		cfg  node.Config
		want string // the error's start
	}{
		{"admin file missing", nil, node.Config{Auth: node.AuthConfig{AdminTokenFile: missing}}, "--admin-token-file: open " + missing},
		{"scoring file missing", nil, node.Config{Auth: node.AuthConfig{ScoringTokenFile: missing}}, "--scoring-token-file: open " + missing},
		{"tenant tokens missing", nil, node.Config{Auth: node.AuthConfig{TenantAdminTokensFile: missing}}, "--tenant-admin-tokens-file: open " + missing},
		{"hmac file missing", nil, node.Config{EngineConfig: node.EngineConfig{HMACSecretFile: missing}}, "--hmac-secret-file: open " + missing},
		{"admin file short", nil, node.Config{Auth: node.AuthConfig{AdminTokenFile: short}}, "--admin-token-file " + short + ": the secret is shorter than"},
		{"scoring variable short", map[string]string{"RISKGATE_SCORING_TOKEN": "tiny-secret"}, node.Config{}, "RISKGATE_SCORING_TOKEN: the secret is shorter than"},
		{"hmac variable short", map[string]string{"RISKGATE_HMAC_SECRET": "tiny-secret"}, node.Config{}, "RISKGATE_HMAC_SECRET: the secret is shorter than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			// The HMAC secret is read when the node is built, the API's
			// tokens when it listens.
			n, err := node.New(context.Background(), tc.cfg, node.WithLogger(slog.New(slog.DiscardHandler)))
			if err == nil {
				_, err = n.Listen()
				n.Close(context.Background())
			}
			if err == nil {
				t.Fatal("started")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "tiny-secret") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
