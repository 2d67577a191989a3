package alert

import (
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// TestConfigEmbedsAsFlags: the serve command can embed Config with
// prefix "alerts-" and get the documented flags and defaults.
func TestConfigEmbedsAsFlags(t *testing.T) {
	var cli struct {
		Alerts Config `embed:"" prefix:"alerts-"`
	}
	p, err := kong.New(&cli, kong.Exit(func(int) { t.Fatal("exit") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{
		"--alerts-on-deny", "--alerts-usernames", "plain", "--alerts-tenant-usernames", "acme=omit;beta=hash",
		"--alerts-file", "-", "--alerts-webhook-url", "https://soc.example/hook", "--alerts-webhook-secret-file", "s", "--alerts-webhook-ca", "ca.pem",
	}); err != nil {
		t.Fatal(err)
	}
	c := cli.Alerts
	if !c.OnDeny || c.Usernames != "plain" || c.TenantUsernames["acme"] != "omit" || c.TenantUsernames["beta"] != "hash" ||
		c.File != "-" || c.WebhookURL != "https://soc.example/hook" || c.WebhookSecretFile != "s" || c.WebhookCA != "ca.pem" || c.QueueSize != 10000 ||
		!c.Notifications || c.NotifyHoldTTL != 30*time.Minute || c.NotifyHoldEntries != 100000 {
		t.Fatalf("parsed %+v", c)
	}
	if _, err := p.Parse([]string{"--no-alerts-notifications"}); err != nil || cli.Alerts.Notifications {
		t.Fatalf("--no-alerts-notifications: %v, %v", err, cli.Alerts.Notifications)
	}
	if _, err := p.Parse([]string{"--alerts-webhook-secret", "x"}); err == nil {
		t.Fatal("the webhook secret is a flag")
	}
	if _, err := p.Parse([]string{"--alerts-usernames", "clear"}); err == nil {
		t.Fatal("an unknown policy parsed")
	}
}
