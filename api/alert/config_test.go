package alert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		sinks   []string
		wantErr string
	}{
		{"nothing: the dispatcher logs", Config{}, nil, ""},
		{"file and webhook", Config{File: filepath.Join(dir, "a.jsonl"), WebhookURL: "https://soc.example/hook", WebhookSecretFile: secret}, []string{"file", "webhook"}, ""},
		{"stdout", Config{File: "-"}, []string{"stdout"}, ""},
		{"secret from the environment", Config{WebhookURL: "https://soc.example/hook", WebhookSecret: hookSecret}, []string{"webhook"}, ""},
		{"webhook without secret", Config{WebhookURL: "https://soc.example/hook"}, nil, "signing secret"},
		{"short secret", Config{WebhookURL: "https://soc.example/hook", WebhookSecret: "short"}, nil, "at least 16 bytes"},
		{"secret without webhook", Config{WebhookSecretFile: secret}, nil, "without --alerts-webhook-url"},
		{"unwritable file", Config{File: filepath.Join(dir, "no", "such", "dir", "a.jsonl")}, nil, "open alert file"},
		{"bad policy", Config{Usernames: "clear"}, nil, "unknown username policy"},
		{"bad tenant policy", Config{TenantUsernames: map[string]string{"acme": "clear"}}, nil, `tenant "acme"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, berr := tt.cfg.Builder(testKeyer(t))
			sinks, serr := tt.cfg.Sinks()
			err := berr
			if err == nil {
				err = serr
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range sinks {
				names = append(names, s.Sink.Name())
				s.Sink.Close(t.Context())
			}
			if strings.Join(names, ",") != strings.Join(tt.sinks, ",") {
				t.Fatalf("sinks %v, want %v", names, tt.sinks)
			}
		})
	}
	b, err := (&Config{Usernames: "plain", TenantUsernames: map[string]string{"acme": "omit"}, OnDeny: true}).Builder(testKeyer(t))
	if err != nil {
		t.Fatal(err)
	}
	d := engine.Decision{DecisionID: "d", Tenant: "acme", Action: engine.ActionDeny, Signals: engine.Env{Attempt: engine.AttemptEnv{Username: "bob"}}}
	if a := b.Build(&d); a == nil || a.User.Username != "" || a.Triggers[0] != TriggerDeny {
		t.Fatalf("builder from config: %+v", a)
	}
}
