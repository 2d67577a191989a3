package alert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// SchemaID is the "schema" field of every alert: the name and major version
// of the format. A change that could break a consumer gets a new version
// (and a new schema file); fields may be added within a version.
const SchemaID = "riskgate.alert.v1"

// Triggers: why a decision alerted.
const (
	TriggerRule = "rule" // a matched rule has alert: true
	TriggerDeny = "deny" // the decision is deny and alerts on deny are on
)

// Alert is one alert, as it is serialised to every sink. Its JSON form is
// described by schema/alert.v1.json.
//
// An *Alert handed to a Sink may instead carry a notification event
// (Notification set, Schema NotificationSchemaID): Marshal and Append then
// write the notification, and AlertID, Tenant, AttemptID, DecisionID, Time
// and User are the notification's, so that a sink keys, labels and signs
// both kinds alike without knowing which it holds.
type Alert struct {
	Schema string `json:"schema"`
	// AlertID is derived from Tenant and DecisionID (see ID): the same
	// decision always gives the same id, so consumers can drop duplicates
	// of an at-least-once delivery.
	AlertID    string    `json:"alert_id"`
	Tenant     string    `json:"tenant"`
	AttemptID  string    `json:"attempt_id"`
	DecisionID string    `json:"decision_id"`
	Time       time.Time `json:"time"`
	// Triggers say why the decision alerted: "rule", "deny" or both.
	Triggers []string      `json:"triggers"`
	Action   engine.Action `json:"action"`
	Score    int           `json:"score"`
	User     User          `json:"user"`
	// Rules are every rule that matched in enforce mode (alerting or not),
	// in evaluation order, so the alert carries the whole explanation.
	Rules []Rule `json:"rules"`
	// Signals are the feature values the rules saw, with the username
	// treated as the tenant's policy says.
	Signals      engine.Env `json:"signals"`
	RulesVersion string     `json:"rules_version"`

	// Notification, when set, is what this value carries instead of an
	// alert.
	Notification *Notification `json:"-"`
}

// IsNotification reports whether a carries a notification event rather
// than an alert.
func (a *Alert) IsNotification() bool { return a.Notification != nil }

// User identifies the account the attempt was for. Username and
// UsernameHash are exclusive: which one is set (or neither) is the tenant's
// UsernamePolicy.
type User struct {
	ID           string `json:"id,omitempty"`
	Username     string `json:"username,omitempty"`
	UsernameHash string `json:"username_hash,omitempty"`
}

// Rule is one matched rule.
type Rule struct {
	ID      string        `json:"id"`
	Action  engine.Action `json:"action"`
	Score   int           `json:"score"`
	Alert   bool          `json:"alert"`
	Message string        `json:"message"`
	Tags    []string      `json:"tags"`
}

// ID returns the alert id of a decision: the first 128 bits, in hex, of
// SHA-256("riskgate-alert" 0x00 tenant 0x00 decision_id). Anyone holding
// the decision can recompute it.
func ID(tenant, decisionID string) string {
	h := sha256.New()
	h.Write([]byte("riskgate-alert\x00"))
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(decisionID))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// UsernamePolicy says how usernames appear in alerts.
type UsernamePolicy uint8

// Username policies. The zero value is the default: a keyed hash.
const (
	// UsernameHash replaces the username with its keyed hash
	// (HMAC-SHA-256 under the server's secret, 128 bits in hex): alerts
	// about the same username correlate, but the name is not readable.
	UsernameHash UsernamePolicy = iota
	// UsernamePlain keeps the username as typed, trimmed and lower-cased.
	UsernamePlain
	// UsernameOmit leaves the username out.
	UsernameOmit
)

var policyNames = [...]string{"hash", "plain", "omit"}

func (p UsernamePolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("UsernamePolicy(%d)", p)
}

// ParseUsernamePolicy parses "hash", "plain" or "omit"; "" is hash.
func ParseUsernamePolicy(s string) (UsernamePolicy, error) {
	if s == "" {
		return UsernameHash, nil
	}
	for i, n := range policyNames {
		if s == n {
			return UsernamePolicy(i), nil
		}
	}
	return 0, fmt.Errorf("alert: unknown username policy %q (want hash, plain or omit)", s)
}

// BuilderOptions configure a Builder.
type BuilderOptions struct {
	// Keyer hashes usernames; it must be the engine's, so that hashes are
	// stable across restarts and nodes. Required unless no tenant uses
	// UsernameHash.
	Keyer *engine.Keyer
	// Usernames is the policy of tenants not in TenantUsernames.
	Usernames UsernamePolicy
	// TenantUsernames overrides the policy per tenant.
	TenantUsernames map[string]UsernamePolicy
	// OnDeny alerts on every deny, not only on decisions that matched an
	// alerting rule.
	OnDeny bool
	// Notify makes a Dispatcher publish notification events.
	Notify NotifyOptions
}

// NotifyOptions say whether and how a Dispatcher publishes notification
// events (riskgate.notification.v1): one per completed login whose
// decision carried notification kinds (rules with notify:).
type NotifyOptions struct {
	Enabled bool
	// HoldTTL and HoldEntries bound the notifications held until the
	// outcome that completes their login (a passed step-up, or a
	// login_succeeded after a score before the password check); defaults
	// DefaultNotifyHoldTTL and DefaultNotifyHoldEntries.
	HoldTTL     time.Duration
	HoldEntries int
}

// Builder makes alerts from decisions. It is safe for concurrent use.
type Builder struct {
	opts BuilderOptions
}

// NewBuilder returns a Builder.
func NewBuilder(opts BuilderOptions) (*Builder, error) {
	needKeyer := opts.Usernames == UsernameHash
	for t, p := range opts.TenantUsernames {
		if p > UsernameOmit {
			return nil, fmt.Errorf("alert: tenant %q: unknown username policy %d", t, p)
		}
		needKeyer = needKeyer || p == UsernameHash
	}
	if opts.Usernames > UsernameOmit {
		return nil, fmt.Errorf("alert: unknown username policy %d", opts.Usernames)
	}
	if needKeyer && opts.Keyer == nil {
		return nil, errors.New("alert: hashing usernames needs the engine's keyer")
	}
	opts.TenantUsernames = maps.Clone(opts.TenantUsernames)
	return &Builder{opts: opts}, nil
}

// Wants reports whether the decision alerts.
func (b *Builder) Wants(d *engine.Decision) bool {
	return d.Alert || b.opts.OnDeny && d.Action == engine.ActionDeny
}

// Build returns the alert of a decision, or nil when it does not alert.
// The alert shares nothing mutable with d.
func (b *Builder) Build(d *engine.Decision) *Alert {
	if !b.Wants(d) {
		return nil
	}
	tenant := d.Tenant
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	a := &Alert{
		Schema: SchemaID, AlertID: ID(tenant, d.DecisionID), Tenant: tenant, AttemptID: d.AttemptID,
		DecisionID: d.DecisionID, Time: d.Time.UTC(), Action: d.Action, Score: d.Score,
		Signals: d.Signals, RulesVersion: d.RulesVersion,
	}
	a.Triggers = make([]string, 0, 2)
	if d.Alert {
		a.Triggers = append(a.Triggers, TriggerRule)
	}
	if b.opts.OnDeny && d.Action == engine.ActionDeny {
		a.Triggers = append(a.Triggers, TriggerDeny)
	}
	a.Rules = make([]Rule, len(d.Reasons))
	for i, r := range d.Reasons {
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		a.Rules[i] = Rule{ID: r.RuleID, Action: r.Action, Score: r.Score, Alert: r.Alert, Message: r.Message, Tags: slices.Clone(tags)}
	}
	// The environment's reference types belong to the decision's caller.
	a.Signals.Attempt.Attributes = maps.Clone(d.Signals.Attempt.Attributes)
	a.Signals.IP.Lists = slices.Clone(d.Signals.IP.Lists)

	a.User.ID = d.Signals.Attempt.UserID
	name := d.Signals.Attempt.Username // already normalised (engine.NormalizeUsername)
	switch b.policy(tenant) {
	case UsernamePlain:
		a.User.Username = name
	case UsernameHash:
		if name != "" {
			a.User.UsernameHash = b.opts.Keyer.Username(tenant, name).String()
		}
		a.Signals.Attempt.Username = a.User.UsernameHash
	case UsernameOmit:
		a.Signals.Attempt.Username = ""
	}
	for i := range a.Rules {
		a.Rules[i].Message = b.scrub(tenant, name, a.Rules[i].Message)
	}
	return a
}

// UsernameOmitted stands for the username in a rule's message under the
// omit policy.
const UsernameOmitted = "(username)"

// scrub returns a rule's message with the username, which a rule's
// reason: may quote (sprintf("... %s", attempt.username)), shown as the
// tenant's policy shows it elsewhere: its keyed hash, or UsernameOmitted.
// The message was the one place of an alert or a notification where a
// rule, a tenant's overlay's included, could put the username in clear
// under a policy that hides it. Only the username as a whole is
// replaced, not where it is part of a longer name or word ("al" in
// "located"), nor what a reason made of it (upper(attempt.username)).
func (b *Builder) scrub(tenant, name, msg string) string {
	if name == "" || !strings.Contains(msg, name) {
		return msg
	}
	var shown string
	switch b.policy(tenant) {
	case UsernamePlain:
		return msg
	case UsernameHash:
		shown = b.opts.Keyer.Username(tenant, name).String()
	default:
		shown = UsernameOmitted
	}
	var out strings.Builder
	for {
		i := strings.Index(msg, name)
		if i < 0 {
			break
		}
		j := i + len(name)
		whole := !nameBefore(msg, i) && !nameAfter(msg, j)
		out.WriteString(msg[:i])
		if whole {
			out.WriteString(shown)
		} else {
			out.WriteString(name)
		}
		msg = msg[j:]
	}
	out.WriteString(msg)
	return out.String()
}

// nameAfter reports whether the name ending at msg[j] goes on: a
// letter or digit (or any byte of a UTF-8 sequence) follows, or the
// punctuation of e-mail addresses and then one ("alice" in
// "alice@example.com"; not in "alice." at a sentence's end).
func nameAfter(msg string, j int) bool {
	if j >= len(msg) {
		return false
	}
	if alnum(msg[j]) {
		return true
	}
	return strings.IndexByte("._-+@", msg[j]) >= 0 && j+1 < len(msg) && alnum(msg[j+1])
}

// nameBefore is nameAfter for the name starting at msg[i].
func nameBefore(msg string, i int) bool {
	if i == 0 {
		return false
	}
	if alnum(msg[i-1]) {
		return true
	}
	return strings.IndexByte("._-+@", msg[i-1]) >= 0 && i >= 2 && alnum(msg[i-2])
}

func alnum(c byte) bool {
	return c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (b *Builder) policy(tenant string) UsernamePolicy {
	if p, ok := b.opts.TenantUsernames[tenant]; ok {
		return p
	}
	return b.opts.Usernames
}

// Append appends the alert's JSON and a newline to buf.
func Append(buf []byte, a *Alert) ([]byte, error) {
	w := bytes.NewBuffer(buf)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var v any = a
	if a.Notification != nil {
		v = a.Notification
	}
	if err := enc.Encode(v); err != nil {
		return buf, fmt.Errorf("alert: encode %s: %w", a.AlertID, err)
	}
	return w.Bytes(), nil
}

// Marshal returns the alert's JSON, without a trailing newline.
func Marshal(a *Alert) ([]byte, error) {
	b, err := Append(nil, a)
	if err != nil {
		return nil, err
	}
	return b[:len(b)-1], nil
}
