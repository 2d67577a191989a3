package client

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// Attempt is one login attempt as the identity server sees it.
type Attempt struct {
	// Tenant scopes everything riskgate keeps; Options.Tenant when empty.
	Tenant string
	// AttemptID is the idempotency key of this scoring call: a retry with
	// the same id gets the first decision back. Generated when empty. The
	// two-point helpers send AttemptID+":before" and AttemptID+":after",
	// since they score the same login twice: with them it may be 249
	// bytes long, else 256.
	AttemptID string
	// Time of the attempt; riskgate's clock when zero.
	Time time.Time
	// UserID is the stable account id; empty when the username matched no
	// account.
	UserID string
	// Username as typed. It is sent cleaned, as are UserAgent and
	// DeviceID, which the person logging in controls too: invalid UTF-8
	// and control characters replaced by U+FFFD; a username or device id
	// over 256 bytes replaced by "sha256:" and the hex SHA-256 of its
	// bytes; a user agent cut to 1024 bytes. riskgate would refuse them
	// otherwise, and a refused attempt is never judged.
	Username string
	// IP is the address of the person logging in (not of a proxy in
	// between). Required. A link-local address is sent without its zone
	// ("fe80::1%eth0" as "fe80::1"), which riskgate refuses.
	IP string
	// UserAgent is the browser's User-Agent header.
	UserAgent string
	// DeviceID is a cookie or fingerprint id that identifies the browser
	// or app across logins.
	DeviceID string
	// Password is HashPassword of the typed password, for the breached
	// password and password-spraying checks. Optional.
	Password PasswordSHA1
	// Geo is a location hint from a CDN header, used when riskgate has no
	// GeoIP database.
	Geo *GeoHint
	// Channel: web, mobile, api, ...
	Channel string
	// Attributes are custom fields the rules can read.
	Attributes map[string]string
}

// GeoHint is a location from a CDN header (Cloudflare's CF-IPCountry,
// CloudFront's CloudFront-Viewer-Country, ...).
type GeoHint struct {
	// Country is ISO 3166-1 alpha-2.
	Country string
	// HasCoordinates says Lat and Lon are set.
	HasCoordinates bool
	Lat, Lon       float64
}

// Result is what the identity server knew about the password when it asked.
type Result int

// Results.
const (
	// ResultUnknown: scored before the password check.
	ResultUnknown Result = iota
	// PasswordOK: the password was right.
	PasswordOK
	// PasswordBad: the account exists and the password was wrong.
	PasswordBad
	// NoSuchUser: the username matched no account.
	NoSuchUser
)

var resultNames = [...]string{"unknown", "password_ok", "password_bad", "no_such_user"}

func (r Result) String() string {
	if r < 0 || int(r) >= len(resultNames) {
		return fmt.Sprintf("result(%d)", int(r))
	}
	return resultNames[r]
}

func (r Result) failed() bool { return r == PasswordBad || r == NoSuchUser }

// PasswordSHA1 is the SHA-1 of a typed password, the Have I Been Pwned
// convention riskgate's breached-password check uses. Its value is sent to
// riskgate and nowhere else: formatting or logging it prints a placeholder,
// and it has no exported fields, so it encodes to JSON as {}.
type PasswordSHA1 struct {
	sum [sha1.Size]byte
	set bool
}

// HashPassword hashes the password as typed (no trimming, no
// normalisation: the breached-password corpus is of passwords as typed).
func HashPassword(typed string) PasswordSHA1 {
	return PasswordSHA1{sum: sha1.Sum([]byte(typed)), set: true}
}

// IsZero reports whether no password was hashed.
func (p PasswordSHA1) IsZero() bool { return !p.set }

const redacted = "[password-sha1 redacted]"

func (p PasswordSHA1) String() string { return redacted }

// GoString keeps %#v from printing the bytes.
func (p PasswordSHA1) GoString() string { return redacted }

// Format prints the placeholder for every verb, %x included.
func (p PasswordSHA1) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps log/slog from printing the bytes.
func (p PasswordSHA1) LogValue() slog.Value { return slog.StringValue(redacted) }

func (p PasswordSHA1) hex() string {
	if !p.set {
		return ""
	}
	return hex.EncodeToString(p.sum[:])
}

// FieldError is an attempt the client refused before sending it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "client: " + e.Field + ": " + e.Msg }

// check catches what would certainly be refused, without a round trip,
// and drops the zone of a link-local address ("fe80::1%eth0", as a
// net.Conn's RemoteAddr gives it): it names an interface of the identity
// server's, nothing of the person logging in, and riskgate refuses an
// address with one, which failed such logins over unjudged.
func (a *Attempt) check() error {
	if a.IP == "" {
		return &FieldError{Field: "ip", Msg: "required"}
	}
	addr, err := netip.ParseAddr(a.IP)
	if err != nil {
		return &FieldError{Field: "ip", Msg: fmt.Sprintf("not an IPv4 or IPv6 address: %q", a.IP)}
	}
	if addr.Zone() != "" {
		a.IP = addr.WithZone("").String()
	}
	return nil
}

// toPB is the attempt as sent, with the fields the person logging in
// controls cleaned (clean.go).
func (a *Attempt) toPB(tenant, attemptID string, r Result) *pb.Attempt {
	p := &pb.Attempt{
		Tenant: tenant, AttemptId: attemptID, UserId: a.UserID, Username: cleanID(a.Username), Ip: a.IP,
		UserAgent: cleanUserAgent(a.UserAgent), DeviceId: cleanID(a.DeviceID), PasswordSha1: a.Password.hex(),
		Result: pb.Result(r), Channel: a.Channel, Attributes: a.Attributes,
	}
	if !a.Time.IsZero() {
		p.Time = timestamppb.New(a.Time)
	}
	if g := a.Geo; g != nil {
		p.Geo = &pb.GeoHint{Country: g.Country}
		if g.HasCoordinates {
			p.Geo.Lat, p.Geo.Lon = &g.Lat, &g.Lon
		}
	}
	return p
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newAttemptID is 48 bits of milliseconds and 80 random bits, base32: ids
// sort by time, as riskgate's own do, and never collide in practice.
func newAttemptID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	return idEncoding.EncodeToString(b[:])
}
