package auth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	a := New(Options{AdminToken: []byte("admin-0123456789abcdef"), ScoringToken: []byte("score-0123456789abcdef")})
	cases := []struct {
		level Level
		authz string
		want  error
	}{
		{Public, "", nil},
		{Scoring, "", ErrUnauthenticated},
		{Scoring, "Bearer score-0123456789abcdef", nil},
		{Scoring, "bearer   score-0123456789abcdef ", nil},
		{Scoring, "Bearer admin-0123456789abcdef", nil},
		{Scoring, "Basic score-0123456789abcdef", ErrUnauthenticated},
		{Scoring, "Bearer score-0123456789abcdeF", ErrUnauthenticated},
		{Admin, "", ErrUnauthenticated},
		{Admin, "Bearer admin-0123456789abcdef", nil},
		{Admin, "Bearer admin-0123456789abcde", ErrUnauthenticated},
		{Admin, "Bearer score-0123456789abcdef", ErrPermissionDenied},
		{Admin, "Bearer ", ErrUnauthenticated},
	}
	for _, c := range cases {
		if err := a.Check(c.level, c.authz, nil); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%v %q: %v, want %v", c.level, c.authz, err, c.want)
		}
	}
}

func TestOpenAndOff(t *testing.T) {
	a := New(Options{})
	if err := a.Check(Scoring, "", nil); err != nil {
		t.Errorf("scoring without a scoring token: %v", err)
	}
	if err := a.Check(Admin, "Bearer anything-at-all-0123", nil); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("admin with no admin credentials configured: %v", err)
	}
	if a.AdminEnabled() || !a.ScoringOpen() {
		t.Error("flags")
	}
}

func TestCertificates(t *testing.T) {
	state := func(cn string, dns ...string) *tls.ConnectionState {
		c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}
	}
	a := New(Options{AdminCertNames: []string{"soc-admin", "ops.example.com"}})
	if err := a.Check(Admin, "", state("soc-admin")); err != nil {
		t.Errorf("admin CN: %v", err)
	}
	if err := a.Check(Admin, "", state("x", "ops.example.com")); err != nil {
		t.Errorf("admin SAN: %v", err)
	}
	if err := a.Check(Admin, "", state("idp")); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("other certificate: %v", err)
	}
	unverified := state("soc-admin")
	unverified.VerifiedChains = nil
	if err := a.Check(Admin, "", unverified); err == nil {
		t.Error("an unverified certificate was trusted")
	}
	anyCert := New(Options{AdminCertNames: []string{"*"}})
	if err := anyCert.Check(Admin, "", state("whoever")); err != nil {
		t.Errorf("*: %v", err)
	}
}

// TestHookLevelIsNotOpenedByAPICredentials: a hook's level is checked by
// the hook; the API's tokens never open it.
func TestHookLevelIsNotOpenedByAPICredentials(t *testing.T) {
	a := New(Options{AdminToken: []byte("admin-token-0123456789"), ScoringToken: []byte("scoring-token-0123456789")})
	for _, h := range []string{"", "Bearer admin-token-0123456789", "Bearer scoring-token-0123456789"} {
		if err := a.Check(Hook, h, nil); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("hook with %q: %v", h, err)
		}
	}
	if Hook.String() != "hook" {
		t.Error(Hook.String())
	}
}
