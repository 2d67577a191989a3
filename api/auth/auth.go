// Package auth decides who may call what, for both the gRPC and the HTTP
// API. There are three levels: public (health, metrics, reflection),
// scoring (Score and Report: open unless a scoring token is configured) and
// admin (rules, profiles, erasure: closed unless an admin token or admin
// client certificates are configured). A caller proves itself with a bearer
// token, compared in constant time, or with a client certificate that the
// listener's TLS has already verified against the client CA.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Level is what an operation needs.
type Level uint8

// Levels.
const (
	Public Level = iota
	Scoring
	Admin
	// Hook is a web hook that authenticates its caller itself, with a
	// credential of its own (the Ory Kratos hook's token): the API lets
	// the request through to it, and no API credential opens it (Check
	// refuses this level).
	Hook
)

func (l Level) String() string {
	switch l {
	case Public:
		return "public"
	case Scoring:
		return "scoring"
	case Hook:
		return "hook"
	}
	return "admin"
}

// Errors of Check. ErrUnauthenticated means no or unknown credentials
// (HTTP 401); ErrPermissionDenied means valid credentials that do not reach
// the level, or an admin surface that is switched off (HTTP 403).
var (
	ErrUnauthenticated  = errors.New("missing or invalid credentials")
	ErrPermissionDenied = errors.New("permission denied")
)

// Options configure an Authenticator.
type Options struct {
	// AdminToken, when set, grants admin (and scoring) to a caller that
	// presents it.
	AdminToken []byte
	// ScoringToken, when set, is required for scoring calls (the admin
	// token and admin certificates are accepted too).
	ScoringToken []byte
	// AdminCertNames grant admin to a verified client certificate whose
	// common name or a DNS, e-mail or URI subject alternative name is in
	// the list; "*" grants it to every verified client certificate.
	AdminCertNames []string
}

// Authenticator checks credentials. It is safe for concurrent use and
// keeps only hashes of the tokens.
type Authenticator struct {
	admin, scoring       [sha256.Size]byte
	hasAdmin, hasScoring bool
	certNames            []string
	anyCert              bool
}

// New returns an Authenticator.
func New(o Options) *Authenticator {
	a := &Authenticator{}
	if len(o.AdminToken) > 0 {
		a.admin, a.hasAdmin = sha256.Sum256(o.AdminToken), true
	}
	if len(o.ScoringToken) > 0 {
		a.scoring, a.hasScoring = sha256.Sum256(o.ScoringToken), true
	}
	for _, n := range o.AdminCertNames {
		if n == "*" {
			a.anyCert = true
		} else if n != "" {
			a.certNames = append(a.certNames, n)
		}
	}
	return a
}

// AdminEnabled reports whether any admin credential is configured.
func (a *Authenticator) AdminEnabled() bool {
	return a.hasAdmin || a.anyCert || len(a.certNames) > 0
}

// ScoringOpen reports whether scoring calls need no credentials.
func (a *Authenticator) ScoringOpen() bool { return !a.hasScoring }

// Check decides whether a caller with this Authorization header value
// (empty when absent) and this TLS state (nil without TLS) may perform an
// operation of level l.
func (a *Authenticator) Check(l Level, authorization string, cs *tls.ConnectionState) error {
	if l == Public || l == Scoring && !a.hasScoring {
		return nil
	}
	if l == Hook {
		return fmt.Errorf("%w: a web hook checks a credential of its own", ErrPermissionDenied)
	}
	token, hasToken := bearer(authorization)
	isAdmin, isScoring := false, false
	if hasToken {
		// Hashing first makes the comparison independent of the length
		// of the secret; both comparisons always run.
		h := sha256.Sum256([]byte(token))
		isAdmin = a.hasAdmin && subtle.ConstantTimeCompare(h[:], a.admin[:]) == 1
		isScoring = a.hasScoring && subtle.ConstantTimeCompare(h[:], a.scoring[:]) == 1
	}
	certAdmin := a.certAdmin(cs)
	switch l {
	case Scoring:
		if isAdmin || isScoring || certAdmin || verifiedCert(cs) {
			return nil
		}
	case Admin:
		if isAdmin || certAdmin {
			return nil
		}
		if !a.AdminEnabled() {
			return fmt.Errorf("%w: the admin API is disabled: configure an admin token (admin-token-file or RISKGATE_ADMIN_TOKEN) or admin-cert-names", ErrPermissionDenied)
		}
		if isScoring || verifiedCert(cs) {
			return ErrPermissionDenied
		}
	}
	if hasToken {
		return ErrUnauthenticated
	}
	return fmt.Errorf("%w: send Authorization: Bearer <token>", ErrUnauthenticated)
}

// bearer extracts the token of "Bearer <token>" (the scheme is
// case-insensitive, RFC 7235).
func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}

func verifiedCert(cs *tls.ConnectionState) bool {
	return cs != nil && len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0
}

// certAdmin reports whether the verified client certificate names an admin.
func (a *Authenticator) certAdmin(cs *tls.ConnectionState) bool {
	if !verifiedCert(cs) {
		return false
	}
	if a.anyCert {
		return true
	}
	if len(a.certNames) == 0 {
		return false
	}
	c := cs.PeerCertificates[0]
	if slices.Contains(a.certNames, c.Subject.CommonName) {
		return true
	}
	for _, n := range c.DNSNames {
		if slices.Contains(a.certNames, n) {
			return true
		}
	}
	for _, n := range c.EmailAddresses {
		if slices.Contains(a.certNames, n) {
			return true
		}
	}
	for _, u := range c.URIs {
		if slices.Contains(a.certNames, u.String()) {
			return true
		}
	}
	return false
}
