package capture

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
)

// keyer keys identifiers for the capture: HMAC-SHA-256 under a key derived
// from the server's secret, truncated to 16 bytes, hex. It is the capture
// format's own (not engine.Keyer), so that a capture's keys stay the same
// across riskgate versions whatever the engine does with its own, and
// differ from the keys in the state store. Used by the writer goroutine
// only (and by Forget, under its own instance).
type keyer struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// Domains separate kinds of identifier, as the engine's do.
const (
	domainUser     = 'u'
	domainUsername = 'n'
	domainDevice   = 'd'
	domainPassword = 'p'
)

// captureKeyLabel derives the capture's key from the server's secret.
const captureKeyLabel = "riskgate capture v1"

func deriveKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(captureKeyLabel))
	return m.Sum(nil)
}

// keyID names a derived key without revealing it.
func keyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

func newKeyer(key []byte) *keyer {
	return &keyer{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 300)}
}

func (k *keyer) key(domain byte, tenant, value string, raw []byte) string {
	k.buf = append(k.buf[:0], domain)
	k.buf = append(k.buf, tenant...)
	k.buf = append(k.buf, 0)
	k.buf = append(k.buf, value...)
	k.buf = append(k.buf, raw...)
	k.mac.Reset()
	k.mac.Write(k.buf)
	return hex.EncodeToString(k.mac.Sum(k.sum[:0])[:16])
}

func (k *keyer) user(tenant, id string) string { return k.key(domainUser, tenant, id, nil) }

// event is what Decided and Reported queue for the writer: copies of the
// fields it needs, identifiers still in clear (they are keyed off the
// scoring path). The password hash sits here in memory only, as it does in
// the engine, until the writer keys it.
type event struct {
	outcome bool
	attempt engine.Attempt // the decision's attempt, or the outcome's (hasAttempt)
	// Decision fields.
	decisionID, tenant, username, rulesVersion string
	time                                       time.Time
	action                                     engine.Action
	score                                      int
	pwStatus                                   string
	pwTier                                     int
	// Outcome fields.
	out        engine.Outcome // Attempt nil: see attempt
	hasAttempt bool
}

// attemptLine turns a decision event into its capture line: identifiers
// keyed, the password hash replaced by its keyed hash and breach status,
// the client's attempt_id replaced by the decision id (which outcome lines
// use to name it), the live decision attached.
func (k *keyer) attemptLine(ev *event) replay.Line {
	a := ev.attempt
	ln := replay.Line{Live: &replay.Live{Action: ev.action, Score: ev.score, RulesVersion: ev.rulesVersion}}
	ln.Attempt = k.keyedAttempt(&a, ev.tenant, ev.username)
	ln.AttemptID, ln.Time = ev.decisionID, ev.time
	if a.PasswordSHA1 != "" {
		var sha [20]byte
		if _, err := hex.Decode(sha[:], []byte(a.PasswordSHA1)); err == nil {
			ln.Password = &replay.Password{Key: k.key(domainPassword, ev.tenant, "", sha[:]), Status: ev.pwStatus, Tier: ev.pwTier}
		}
	}
	return ln
}

// keyedAttempt copies what a replay needs of a, with identifiers keyed and
// no password. username is the normalised username ("" to normalise a's).
func (k *keyer) keyedAttempt(a *engine.Attempt, tenant, username string) engine.Attempt {
	out := engine.Attempt{
		Tenant: tenant, Time: a.Time, IP: a.IP, UserAgent: a.UserAgent, Result: a.Result,
		Geo: a.Geo, Channel: a.Channel, Attributes: a.Attributes,
	}
	if a.UserID != "" {
		out.UserID = k.user(tenant, a.UserID)
	}
	if username == "" {
		username = normalizeUsername(a.Username)
	}
	if username != "" {
		out.Username = k.key(domainUsername, tenant, username, nil)
	}
	if a.DeviceID != "" {
		out.DeviceID = k.key(domainDevice, tenant, a.DeviceID, nil)
	}
	return out
}

// outcomeLine turns an outcome event into its capture line.
func (k *keyer) outcomeLine(ev *event) *replay.Outcome {
	o := &replay.Outcome{Outcome: ev.out}
	o.DecisionID = ""
	if ev.hasAttempt {
		tenant := ev.attempt.Tenant
		if tenant == "" {
			tenant = engine.DefaultTenant
		}
		a := k.keyedAttempt(&ev.attempt, tenant, "")
		o.Outcome.Attempt = &a
	} else {
		o.AttemptID = ev.out.DecisionID
	}
	return o
}

// normalizeUsername is the engine's normalisation, for attempts the
// capture gets without a decision (outcomes reported with the attempt).
func normalizeUsername(s string) string { return engine.NormalizeUsername(s) }
