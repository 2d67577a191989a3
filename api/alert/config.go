package alert

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/tlsfiles"
	"github.com/riskgate/riskgate/rules"
)

// Config is the alert settings of `riskgate serve`: each field is a flag
// --alerts-NAME, a variable RISKGATE_ALERTS_NAME and a key alerts.NAME of
// the configuration file (the struct tags are the flags' help and
// defaults, so the serve command can embed Config with prefix
// "alerts-"). The Kafka alerts topic is a setting of the stream
// (--kafka-alerts-topic); without any sink alerts are logged.
type Config struct {
	// OnDeny alerts on every deny, not only on decisions that matched a
	// rule with alert: true.
	OnDeny bool `help:"Alert on every deny, not only on decisions that match a rule with alert: true."`
	// Usernames is how usernames appear in alerts: hash (a keyed hash,
	// the default), plain or omit.
	Usernames string `help:"How usernames appear in alerts: hash (keyed HMAC-SHA-256, equal for equal names), plain, or omit." default:"hash" enum:"hash,plain,omit"`
	// TenantUsernames overrides Usernames per tenant.
	TenantUsernames map[string]string `help:"Username policy per tenant, overriding --alerts-usernames (TENANT=POLICY;...)." placeholder:"TENANT=POLICY"`
	// File receives every alert as a JSON line; "-" is standard output.
	File string `help:"Append alerts as JSON lines to this file (- for standard output). Reopened on SIGHUP, and when the path no longer names the file open (removed or renamed: checked once a second)." placeholder:"FILE"`
	// WebhookURL receives one signed POST per alert.
	WebhookURL string `help:"POST each alert to this URL, signed with HMAC-SHA-256 (headers X-Riskgate-Timestamp, X-Riskgate-Signature)." placeholder:"URL"`
	// WebhookSecretFile holds the webhook signing secret; or set
	// WebhookSecret (from RISKGATE_ALERTS_WEBHOOK_SECRET). Never a flag.
	WebhookSecretFile string `help:"File holding the webhook signing secret (16 bytes or more). Or set RISKGATE_ALERTS_WEBHOOK_SECRET." placeholder:"FILE"`
	WebhookSecret     string `kong:"-" yaml:"-" json:"-"`
	// WebhookCA is a PEM file of the CAs the webhook's certificate must
	// chain to, for a receiver behind a private CA; default the system's.
	WebhookCA string `help:"CA certificates (PEM) the webhook's certificate must chain to, for a receiver behind a private CA (default: the system's). Re-read when it changes, and on SIGHUP." placeholder:"FILE"`
	// QueueSize bounds the alerts each sink holds while it is slow or
	// down; past it new alerts are dropped and counted.
	QueueSize int `help:"Alerts each sink may hold while it is slow or unreachable; past that, new alerts are dropped and counted (riskgate_alerts_dropped_total). 0: the default, 10000." default:"10000"`
	// Notifications publishes a notification event to the same sinks for
	// each completed login whose decision carries notification kinds.
	Notifications bool `help:"Publish a notification event (schema riskgate.notification.v1, docs/notifications.md) to the alert sinks for each completed login from a new device or country (rules with notify:), for the identity server to email or push to the user." default:"true" negatable:""`
	// NotifyHoldTTL and NotifyHoldEntries bound the notifications waiting
	// for their login's outcome (a step-up).
	NotifyHoldTTL     time.Duration `help:"How long a notification waits for the outcome that completes its login (a passed step-up); after that it is dropped. 0: the default, 30m." default:"30m"`
	NotifyHoldEntries int           `help:"Notifications that may wait for their login's outcome; past that the oldest are dropped and counted (riskgate_notifications_evicted_total). 0: the default, 100000." default:"100000"`
	// TenantShare is the share of each sink's queue and of the held
	// notifications one tenant may take once a second tenant alerts or
	// notifies (Options.TenantShare).
	TenantShare float64 `help:"Share (over 0, at most 1) of each sink's queue and of the held notifications that one tenant may take once more than one tenant has alerted or notified; past it that tenant's new alerts and notifications are dropped, counted with reason tenant_share and logged with the tenant, so that one tenant's flood leaves room for the others'. 1: no per-tenant share; 0 means the default, 0.5." default:"0.5"`
}

// EnvWebhookSecret is the variable the webhook secret may come from.
const EnvWebhookSecret = "RISKGATE_ALERTS_WEBHOOK_SECRET"

// Builder returns the builder the configuration describes; k is the
// engine's keyer, for hashed usernames.
func (c *Config) Builder(k *engine.Keyer) (*Builder, error) {
	p, err := ParseUsernamePolicy(c.Usernames)
	if err != nil {
		return nil, err
	}
	opts := BuilderOptions{Keyer: k, Usernames: p, OnDeny: c.OnDeny,
		Notify: NotifyOptions{Enabled: c.Notifications, HoldTTL: c.NotifyHoldTTL, HoldEntries: c.NotifyHoldEntries}}
	if len(c.TenantUsernames) > 0 {
		opts.TenantUsernames = make(map[string]UsernamePolicy, len(c.TenantUsernames))
		for _, raw := range slices.Sorted(maps.Keys(c.TenantUsernames)) {
			// "acme=hash; beta=omit" is written as often as without
			// the space, which made the tenant " beta": no attempt
			// carries it, so beta's usernames went out as the default
			// policy said (plain, maybe) and nothing told. Spaces around
			// a tenant or a policy are the list's layout, not theirs;
			// a tenant no attempt could carry is refused.
			t := strings.TrimSpace(raw)
			if !rules.ValidTenant(t) {
				return nil, fmt.Errorf("alert: tenant-usernames: tenant %.70q: want 1-64 letters, digits, '-', '_' or '.', not starting with '.' (the attempts' tenant, compared exactly)", raw)
			}
			if _, dup := opts.TenantUsernames[t]; dup {
				return nil, fmt.Errorf("alert: tenant-usernames: tenant %s given twice", t)
			}
			p, err := ParseUsernamePolicy(strings.TrimSpace(c.TenantUsernames[raw]))
			if err != nil {
				return nil, fmt.Errorf("alert: tenant %q: %w", t, err)
			}
			opts.TenantUsernames[t] = p
		}
	}
	return NewBuilder(opts)
}

// Sinks opens the file and webhook sinks the configuration names. The
// caller adds the Kafka sink, if any, and hands them all to
// NewDispatcher, which closes them.
func (c *Config) Sinks() (sinks []SinkConfig, err error) {
	var out []SinkConfig
	defer func() {
		if err != nil {
			for _, s := range out {
				s.Sink.Close(context.Background())
			}
		}
	}()
	switch c.File {
	case "":
	case "-":
		out = append(out, SinkConfig{Sink: NewWriterSink("stdout", os.Stdout), QueueSize: c.QueueSize})
	default:
		f, err := OpenFileSink(c.File)
		if err != nil {
			return nil, err
		}
		out = append(out, SinkConfig{Sink: f, QueueSize: c.QueueSize})
	}
	if c.WebhookURL != "" {
		secret := c.WebhookSecret
		if c.WebhookSecretFile != "" {
			b, err := os.ReadFile(c.WebhookSecretFile)
			if err != nil {
				return nil, fmt.Errorf("alert: webhook secret: %w", err)
			}
			secret = strings.TrimRight(string(b), "\r\n")
		}
		if secret == "" {
			return nil, fmt.Errorf("alert: a webhook needs a signing secret (--alerts-webhook-secret-file or %s)", EnvWebhookSecret)
		}
		opts := WebhookOptions{URL: c.WebhookURL, Secret: []byte(secret)}
		if c.WebhookCA != "" {
			if !strings.HasPrefix(strings.ToLower(c.WebhookURL), "https://") {
				return nil, errors.New("alert: --alerts-webhook-ca needs an https:// --alerts-webhook-url")
			}
			// Read at start, so that a file that is missing or holds no
			// certificate stops the server rather than every delivery
			// failing its TLS handshake, retried until shutdown.
			if opts.RootCAs, err = tlsfiles.LoadCAs(c.WebhookCA); err != nil {
				return nil, fmt.Errorf("alert: --alerts-webhook-ca: %w", err)
			}
		}
		w, err := NewWebhookSink(opts)
		if err != nil {
			return nil, err
		}
		out = append(out, SinkConfig{Sink: w, QueueSize: c.QueueSize})
	} else if c.WebhookSecretFile != "" {
		return nil, errors.New("alert: a webhook secret without --alerts-webhook-url")
	} else if c.WebhookCA != "" {
		return nil, errors.New("alert: --alerts-webhook-ca without --alerts-webhook-url")
	}
	return out, nil
}
