// Package auth decides who may call what, for both the gRPC and the HTTP
// API. There are four levels: public (health, metrics, reflection),
// scoring (Score and Report: open unless a scoring token is configured),
// admin (rules, profiles, erasure: closed unless an admin token or admin
// client certificates are configured) and tenant admin (one tenant's rule
// overlay: an admin, or that tenant's own admin token, which reaches
// nothing else: not another tenant, not the shared rules). A caller proves itself with a bearer
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
	// TenantAdmin is an operation on one tenant's rules: an admin, or the
	// tenant's own admin token (CheckTenant).
	TenantAdmin
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
	case TenantAdmin:
		return "tenant admin"
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
	// TenantAdminTokens grant a caller that presents one of them the
	// tenant admin level for that tenant only (tenant → token).
	TenantAdminTokens map[string][]byte
}

// Authenticator checks credentials. It is safe for concurrent use and
// keeps only hashes of the tokens.
type Authenticator struct {
	admin, scoring       [sha256.Size]byte
	hasAdmin, hasScoring bool
	certNames            []string
	anyCert              bool
	tenants              map[[sha256.Size]byte]string // token hash → tenant
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
	if len(o.TenantAdminTokens) > 0 {
		a.tenants = make(map[[sha256.Size]byte]string, len(o.TenantAdminTokens))
		for t, tok := range o.TenantAdminTokens {
			if len(tok) > 0 {
				a.tenants[sha256.Sum256(tok)] = t
			}
		}
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

// TenantsEnabled reports whether tenant admin tokens are configured.
func (a *Authenticator) TenantsEnabled() bool { return len(a.tenants) > 0 }

// Check decides whether a caller with this Authorization header value
// (empty when absent) and this TLS state (nil without TLS) may perform an
// operation of level l. For TenantAdmin it admits admins only: an
// operation on a tenant's rules calls CheckTenant with the tenant.
func (a *Authenticator) Check(l Level, authorization string, cs *tls.ConnectionState) error {
	return a.CheckTenant(l, "", authorization, cs)
}

// CheckTenant is Check for an operation on one tenant's rules: at level
// TenantAdmin, the tenant's own admin token is admitted as well as the
// admins; another tenant's token is ErrPermissionDenied.
func (a *Authenticator) CheckTenant(l Level, tenant, authorization string, cs *tls.ConnectionState) error {
	if l == Public || l == Scoring && !a.hasScoring {
		return nil
	}
	if l == Hook {
		return fmt.Errorf("%w: a web hook checks a credential of its own", ErrPermissionDenied)
	}
	token, hasToken := bearer(authorization)
	isAdmin, isScoring, tokenTenant, isTenant := false, false, "", false
	if hasToken {
		// Hashing first makes the comparison independent of the length
		// of the secret; both comparisons always run. The tenants' tokens
		// are looked up by hash: the lookup's timing depends on the
		// hash, never on how much of a token was right.
		var tb [128]byte // tokens are shorter: no copy on the heap per call
		h := sha256.Sum256(append(tb[:0], token...))
		isAdmin = a.hasAdmin && subtle.ConstantTimeCompare(h[:], a.admin[:]) == 1
		isScoring = a.hasScoring && subtle.ConstantTimeCompare(h[:], a.scoring[:]) == 1
		tokenTenant, isTenant = a.tenants[h]
	}
	certAdmin := a.certAdmin(cs)
	switch l {
	case TenantAdmin:
		if isAdmin || certAdmin || isTenant && tenant != "" && tokenTenant == tenant {
			return nil
		}
		if isTenant {
			return fmt.Errorf("%w: this token manages the rules of tenant %q only", ErrPermissionDenied, tokenTenant)
		}
		if !a.AdminEnabled() && !a.TenantsEnabled() {
			return fmt.Errorf("%w: the admin API is disabled: configure an admin token (admin-token-file or RISKGATE_ADMIN_TOKEN), admin-cert-names or tenant-admin-tokens-file", ErrPermissionDenied)
		}
		if isScoring || verifiedCert(cs) {
			return ErrPermissionDenied
		}
	case Scoring:
		if isAdmin || isScoring || certAdmin || verifiedCert(cs) {
			return nil
		}
		if isTenant {
			return fmt.Errorf("%w: a tenant admin token does not score", ErrPermissionDenied)
		}
	case Admin:
		if isAdmin || certAdmin {
			return nil
		}
		if !a.AdminEnabled() {
			return fmt.Errorf("%w: the admin API is disabled: configure an admin token (admin-token-file or RISKGATE_ADMIN_TOKEN) or admin-cert-names", ErrPermissionDenied)
		}
		if isTenant {
			return fmt.Errorf("%w: this token manages the rules of tenant %q only", ErrPermissionDenied, tokenTenant)
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
