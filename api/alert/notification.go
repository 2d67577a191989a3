package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// NotificationSchemaID is the "schema" field of every notification event,
// described by schema/notification.v1.json and docs/notifications.md.
const NotificationSchemaID = "riskgate.notification.v1"

// How a notified login completed.
const (
	// CompletedByPassword: allowed with the right password (scored after
	// the password check, or scored before it and reported
	// login_succeeded).
	CompletedByPassword = "password"
	// CompletedByStepUp: stepped up, and the step-up passed (or an allow
	// scored before the password check was reported step_up_passed: the
	// identity server asked for a second factor of its own).
	CompletedByStepUp = "step_up"
)

// Notification is the event an identity server turns into a "new sign-in
// to your account" email or push: a completed login whose decision carried
// notification kinds (rules with notify:). It is published through the
// same sinks as alerts (an *Alert whose Notification is set), and its JSON
// form is schema/notification.v1.json.
type Notification struct {
	Schema string `json:"schema"`
	// NotificationID is derived from Tenant and DecisionID (see
	// NotificationID): consumers drop redeliveries by it, and never send
	// the user two messages for one login.
	NotificationID string    `json:"notification_id"`
	Tenant         string    `json:"tenant"`
	AttemptID      string    `json:"attempt_id"`
	DecisionID     string    `json:"decision_id"`
	Time           time.Time `json:"time"`
	// Kinds are the decision's notification kinds ("new_device",
	// "new_country"), each once, in rule order.
	Kinds []string `json:"kinds"`
	// CompletedBy is how the login completed: "password" or "step_up".
	CompletedBy string `json:"completed_by"`
	// User says whom to tell: ID is the identity server's own account id
	// (the attempt's user_id), always present; the username follows the
	// tenant's username policy, as in alerts.
	User User `json:"user"`
	// Login is what the message can show the user of the sign-in.
	Login Login `json:"login"`
	// Rules are the matched rules that gave the kinds.
	Rules        []NotifyRule `json:"rules"`
	RulesVersion string       `json:"rules_version"`
}

// Login describes the sign-in for the user's eyes: where and with what,
// coarsely. The raw user-agent string, the device id and the password
// hash are never in it.
type Login struct {
	IP          string `json:"ip"`
	Country     string `json:"country,omitempty"`
	Subdivision string `json:"subdivision,omitempty"`
	City        string `json:"city,omitempty"`
	Browser     string `json:"browser,omitempty"`
	OS          string `json:"os,omitempty"`
	DeviceType  string `json:"device_type,omitempty"`
	Channel     string `json:"channel,omitempty"`
}

// NotifyRule is a matched rule that gave a notification kind.
type NotifyRule struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// NotificationID returns the notification id of a decision: the first 128
// bits, in hex, of SHA-256("riskgate-notification" 0x00 tenant 0x00
// decision_id).
func NotificationID(tenant, decisionID string) string {
	k := notificationKey(tenant, decisionID)
	return hex.EncodeToString(k[:])
}

// notificationKey is a notification id in binary: the first 128 bits of
// SHA-256("riskgate-notification" 0x00 tenant 0x00 decision_id).
func notificationKey(tenant, decisionID string) [16]byte {
	h := sha256.New()
	h.Write([]byte("riskgate-notification\x00"))
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(decisionID))
	var sum [sha256.Size]byte
	return [16]byte(h.Sum(sum[:0]))
}

// Notification returns the notification event of a decision that carries
// notification kinds and names a user, completed as completedBy; nil when
// there is nothing to tell or no one to tell it to. It shares nothing
// mutable with d.
func (b *Builder) Notification(d *engine.Decision, completedBy string) *Notification {
	n := b.notification(d, completedBy)
	if n != nil {
		n.NotificationID = NotificationID(n.Tenant, n.DecisionID)
	}
	return n
}

// notification is Notification without its id: a held notification is
// keyed by the id in binary and gets its text form only when published.
func (b *Builder) notification(d *engine.Decision, completedBy string) *Notification {
	s := &d.Signals
	if len(d.Notify) == 0 || s.Attempt.UserID == "" {
		return nil
	}
	tenant := d.Tenant
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	n := &Notification{
		Schema: NotificationSchemaID, Tenant: tenant,
		AttemptID: d.AttemptID, DecisionID: d.DecisionID, Time: d.Time.UTC(), Kinds: slices.Clone(d.Notify),
		CompletedBy: completedBy, RulesVersion: d.RulesVersion,
		Login: Login{
			IP: s.Attempt.IP, Country: s.Geo.Country, Subdivision: s.Geo.Subdivision, City: s.Geo.City,
			Browser: s.Device.Browser, OS: s.Device.OS, DeviceType: s.Device.Type, Channel: s.Attempt.Channel,
		},
		Rules: []NotifyRule{},
	}
	for _, r := range d.Reasons {
		if r.Notify != "" {
			n.Rules = append(n.Rules, NotifyRule{ID: r.RuleID, Kind: r.Notify, Message: b.scrub(tenant, s.Attempt.Username, r.Message)})
		}
	}
	n.User.ID = s.Attempt.UserID
	switch name := s.Attempt.Username; b.policy(tenant) {
	case UsernamePlain:
		n.User.Username = name
	case UsernameHash:
		if name != "" {
			n.User.UsernameHash = b.opts.Keyer.Username(tenant, name).String()
		}
	}
	return n
}

// envelope wraps a notification for the sinks, which deliver *Alert: the
// alert fields they read (the id, tenant and user, for headers and keys)
// are the notification's.
func (n *Notification) envelope() *Alert {
	return &Alert{
		Schema: n.Schema, AlertID: n.NotificationID, Tenant: n.Tenant, AttemptID: n.AttemptID,
		DecisionID: n.DecisionID, Time: n.Time, User: n.User, Notification: n,
	}
}
