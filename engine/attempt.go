package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Attempt is one login attempt as the identity server reports it. JSON names
// are the wire contract (README.md, "The attempt"); the protobuf message
// mirrors them.
type Attempt struct {
	Tenant       string            `json:"tenant,omitempty"`
	AttemptID    string            `json:"attempt_id,omitempty"`
	Time         time.Time         `json:"time,omitzero"`
	UserID       string            `json:"user_id,omitempty"`
	Username     string            `json:"username,omitempty"`
	IP           string            `json:"ip"`
	UserAgent    string            `json:"user_agent,omitempty"`
	DeviceID     string            `json:"device_id,omitempty"`
	PasswordSHA1 string            `json:"password_sha1,omitempty"`
	Result       Result            `json:"result,omitempty"`
	Geo          *GeoHint          `json:"geo,omitempty"`
	Channel      string            `json:"channel,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`

	// BeforePassword marks the first Score of a login scored twice: before
	// the password check, then after it with its result (the Go client's
	// BeforePassword and AfterPassword). The second decision is the one
	// the login acts on and reports the outcome of, so nothing is held
	// awaiting this one's outcome: no pending decision, no held
	// notification. It is set from the request (ScoreRequest.before_password,
	// ?before_password=true), not the attempt's JSON: captures and streams
	// do not carry it. Only with ResultUnknown (CheckBeforePassword).
	BeforePassword bool `json:"-"`
}

// CheckBeforePassword refuses BeforePassword on an attempt whose password
// was already checked: such a decision is the one the login acts on, and
// would never learn. The error names the request's field, before_password.
func CheckBeforePassword(a *Attempt) error {
	if a.BeforePassword && a.Result != ResultUnknown {
		return fieldErr("before_password", "only for an attempt scored before the password check (result unknown); this one's result is %s", a.Result)
	}
	return nil
}

// GeoHint is a location the client already knows, typically from a CDN
// header. It is used only when no GeoIP database answers for the address.
type GeoHint struct {
	Country string   `json:"country,omitempty"`
	Lat     *float64 `json:"lat,omitempty"`
	Lon     *float64 `json:"lon,omitempty"`
}

// Result is what the identity server knew about the password when it asked.
type Result uint8

// Results. ResultUnknown means the attempt was scored before the password
// was checked; the outcome then arrives later through Report.
const (
	ResultUnknown Result = iota
	ResultPasswordOK
	ResultPasswordBad
	ResultNoSuchUser
)

var resultNames = [...]string{"unknown", "password_ok", "password_bad", "no_such_user"}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("result(%d)", r)
}

// Failed reports whether the attempt is already known to have failed.
func (r Result) Failed() bool { return r == ResultPasswordBad || r == ResultNoSuchUser }

// ParseResult parses the wire name of a result; the empty string is unknown.
func ParseResult(s string) (Result, error) {
	if s == "" {
		return ResultUnknown, nil
	}
	for i, n := range resultNames {
		if s == n {
			return Result(i), nil
		}
	}
	return 0, fmt.Errorf("unknown result %q (want one of %s)", s, strings.Join(resultNames[:], ", "))
}

func (r Result) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r *Result) UnmarshalText(b []byte) error {
	v, err := ParseResult(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Limits bound every attempt field. They keep a hostile client from making
// the engine hash or store megabytes per request.
const (
	MaxTenantLen    = 64
	MaxIDLen        = 256 // attempt_id, user_id, username, device_id
	MaxUserAgentLen = 1024
	MaxChannelLen   = 32
	MaxAttributes   = 32
	MaxAttrKeyLen   = 64
	MaxAttrValueLen = 256
	DefaultTenant   = "default"
	sha1HexLen      = 40
)

// FieldError is a validation error that names the offending attempt field,
// using the JSON name, so that APIs can report it back precisely.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// ErrInvalid is wrapped by every validation error; errors.Is(err, ErrInvalid)
// tells bad input apart from internal failures.
var ErrInvalid = errors.New("invalid input")

func (e *FieldError) Unwrap() error { return ErrInvalid }

// WithinField names an error's field as part of a larger request: field
// "ip" of the request's "attempt." is "attempt.ip". Errors that name no
// field are returned as they are.
func WithinField(err error, prefix string) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: prefix + fe.Field, Msg: fe.Msg}
	}
	return err
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// normalized is a validated attempt in the form the pipeline uses.
type normalized struct {
	a           *Attempt
	tenant      string
	username    string // trimmed, lower-case
	addr        netip.Addr
	time        time.Time
	password    [20]byte
	hasPassword bool
}

// normalize validates a and fills n. It never keeps a reference to anything
// but a itself, and reports the first bad field.
func (n *normalized) normalize(a *Attempt, now time.Time, maxSkew time.Duration) error {
	n.a = a
	n.tenant = a.Tenant
	if n.tenant == "" {
		n.tenant = DefaultTenant
	} else if err := checkTenant(a.Tenant); err != nil {
		return err
	}
	if err := checkString("attempt_id", a.AttemptID, MaxIDLen); err != nil {
		return err
	}
	if err := checkString("user_id", a.UserID, MaxIDLen); err != nil {
		return err
	}
	// What the login's client sends, an attacker sets at will: cleaned,
	// not refused (CleanClientField).
	a.Username = CleanClientField(a.Username, MaxIDLen, true)
	a.UserAgent = CleanClientField(a.UserAgent, MaxUserAgentLen, false)
	a.DeviceID = CleanClientField(a.DeviceID, MaxIDLen, true)
	n.username = NormalizeUsername(a.Username)
	if a.Channel != "" {
		if err := checkToken("channel", a.Channel, MaxChannelLen); err != nil {
			return err
		}
	}
	if a.IP == "" {
		return fieldErr("ip", "required")
	}
	if len(a.IP) > 64 {
		return fieldErr("ip", "too long (%d bytes)", len(a.IP))
	}
	addr, err := parseAddr(a.IP)
	if err != nil || addr.Zone() != "" {
		return fieldErr("ip", "not an IPv4 or IPv6 address: %q", a.IP)
	}
	n.addr = addr.Unmap()
	n.hasPassword = false
	if a.PasswordSHA1 != "" {
		if len(a.PasswordSHA1) != sha1HexLen {
			return fieldErr("password_sha1", "want 40 hex digits (SHA-1), got %d characters", len(a.PasswordSHA1))
		}
		if !decodeHex(n.password[:], a.PasswordSHA1) {
			return fieldErr("password_sha1", "not hexadecimal")
		}
		n.hasPassword = true
	}
	if a.Result > ResultNoSuchUser {
		return fieldErr("result", "unknown value %d", a.Result)
	}
	if a.Geo != nil {
		if err := checkGeo(a.Geo); err != nil {
			return err
		}
	}
	if len(a.Attributes) > MaxAttributes {
		return fieldErr("attributes", "%d entries, at most %d allowed", len(a.Attributes), MaxAttributes)
	}
	for k, v := range a.Attributes {
		if k == "" || len(k) > MaxAttrKeyLen || !utf8.ValidString(k) || hasControl(k) {
			return fieldErr("attributes", "key %.70q must be 1 to %d bytes of UTF-8 without control characters", k, MaxAttrKeyLen)
		}
		if secretKey(k) {
			return fieldErr("attributes."+k, SecretMsg+": attributes are stored, logged and echoed in decisions; send a password only as password_sha1 (its SHA-1, hex), and never send other secrets")
		}
		if len(v) > MaxAttrValueLen || !utf8.ValidString(v) || hasControl(v) {
			return fieldErr("attributes."+k, "value must be at most %d bytes of UTF-8 without control characters", MaxAttrValueLen)
		}
	}
	// In UTC, whatever the caller's offset or the server's zone: the
	// decision carries this time, and its JSON (HTTP, the streams,
	// captures) echoed "+02:00", or the zone of a server with TZ set for
	// an attempt without a time, where gRPC's Timestamp says UTC.
	n.time = a.Time.UTC()
	if n.time.IsZero() {
		n.time = now.UTC()
	} else if y := n.time.Year(); y < 2000 || y > 9999 {
		return fieldErr("time", "year %d out of range", y)
	} else if maxSkew > 0 && n.time.After(now.Add(maxSkew)) {
		return fieldErr("time", "%s is in the future", n.time.Format(time.RFC3339))
	}
	return nil
}

// hasControl reports whether s holds an ASCII control character (NUL,
// CR, LF, ...), which no field accepts.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// LooksLikeSecret reports whether a field or attribute name names a
// secret, as the engine refuses an attribute so named ("looks like a
// secret"): see secretKey. Transports use it to keep such values out of
// what they copy elsewhere (the stream's dead letters).
func LooksLikeSecret(name string) bool { return secretKey(name) }

// SecretMsg is how a refusal of a value that looks like a secret says so.
const SecretMsg = "looks like a secret"

// secretKey reports whether an attribute key names a secret: one of its
// words (split at '_', '-', '.', spaces and lower-to-upper case changes)
// is pass, pw, pwd, pin, otp, totp, token or cvc, or it contains passw
// (password, passwd, the German Passwort), pswd, secret, passphrase,
// passcode, pincode, apikey, privatekey, mfacode, otpcode or cvv,
// separators aside ("userPassword", "client_secret", "x-otp", "api_key",
// "private_key", "mfa_code"). "credential" is not on the list: it names a
// method as often as a secret (credential_type: webauthn).
func secretKey(k string) bool {
	if !plainASCII(k) {
		// As usernames are read: "pass\u200bword" and a fullwidth
		// "ｐａｓｓｗｏｒｄ" name a password as plainly to whoever reads
		// the attributes, and were let through with its value.
		k = norm.NFKC.String(strings.Map(dropInvisible, k))
	}
	lower := strings.ToLower(k)
	compact := strings.Map(func(r rune) rune {
		if strings.ContainsRune("_-. :/", r) {
			return -1
		}
		return r
	}, lower)
	for _, w := range []string{"passw", "pswd", "secret", "passphrase", "passcode", "pincode", "apikey", "privatekey", "mfacode", "otpcode", "cvv"} {
		if strings.Contains(compact, w) {
			return true
		}
	}
	start := 0
	for i := 0; i <= len(k); i++ {
		boundary := i == len(k) || strings.IndexByte("_-. :/", k[i]) >= 0 ||
			i > 0 && k[i] >= 'A' && k[i] <= 'Z' && k[i-1] >= 'a' && k[i-1] <= 'z'
		if !boundary {
			continue
		}
		switch strings.ToLower(k[start:i]) {
		case "pin", "otp", "token", "totp", "pwd", "pw", "pass", "cvc":
			return true
		}
		start = i
		if i < len(k) && strings.IndexByte("_-. :/", k[i]) >= 0 {
			start = i + 1
		}
	}
	return false
}

func checkString(field, s string, max int) error {
	if len(s) > max {
		return fieldErr(field, "too long (%d bytes, at most %d)", len(s), max)
	}
	if plainASCII(s) {
		return nil // the common case: one pass, eight bytes at a time
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "not valid UTF-8")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

// checkToken accepts the characters that are safe in store keys and metric
// labels: tenants and channels end up in both.
// CleanClientField returns s as riskgate takes a field that the login's
// client sends and an attacker sets at will: the username typed, the
// browser's user agent, a device cookie. Refused (400), such a field put
// the login on the caller's failover path, neither judged nor counted: a
// brute force with a 1,100-byte User-Agent was let in where the caller
// failed over to allow, and none of its failures counted. So invalid
// UTF-8 (each run of bad bytes) and ASCII control characters become
// U+FFFD; then a value longer than max is, with digest, the SHA-256 of
// the value as sent, "sha256:" and 64 hex digits, so that long values
// stay apart, or else cut to max bytes at a character boundary. The Go
// client (api/client) cleans by the same rules before sending, and the
// result cleans to itself.
func CleanClientField(s string, max int, digest bool) string {
	if len(s) <= max && plainASCII(s) {
		return s // the common case
	}
	c := s
	if !utf8.ValidString(c) {
		c = strings.ToValidUTF8(c, "\uFFFD")
	}
	if hasControl(c) {
		c = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return utf8.RuneError
			}
			return r
		}, c)
	}
	if len(c) <= max {
		return c
	}
	if digest {
		sum := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	i := max
	for i > 0 && !utf8.RuneStart(c[i]) {
		i--
	}
	return c[:i]
}

// checkTenant checks a tenant a Score or an outcome names: a token, not
// starting with '.', as a tenant's rules overlay must not (its folder's
// name): a tenant ".x" was scored and could never have rules of its own.
// Profile and Forget take such tenants still, so that what was stored
// under one before can be read and erased.
func checkTenant(t string) error {
	if err := checkToken("tenant", t, MaxTenantLen); err != nil {
		return err
	}
	if t != "" && t[0] == '.' {
		return fieldErr("tenant", "%q: must not start with '.'", t)
	}
	return nil
}

func checkToken(field, s string, max int) error {
	if len(s) > max {
		return fieldErr(field, "too long (%d bytes, at most %d)", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fieldErr(field, "%q: only ASCII letters, digits, '-', '_' and '.' are allowed", s)
		}
	}
	return nil
}

func checkGeo(g *GeoHint) error {
	if g.Country != "" {
		if len(g.Country) != 2 || !isAlpha(g.Country[0]) || !isAlpha(g.Country[1]) {
			return fieldErr("geo.country", "want an ISO 3166-1 alpha-2 code, got %.20q", g.Country)
		}
	}
	if (g.Lat == nil) != (g.Lon == nil) {
		return fieldErr("geo", "lat and lon must be given together")
	}
	if g.Lat != nil {
		if !(*g.Lat >= -90 && *g.Lat <= 90) {
			return fieldErr("geo.lat", "%v out of range [-90, 90]", *g.Lat)
		}
		if !(*g.Lon >= -180 && *g.Lon <= 180) {
			return fieldErr("geo.lon", "%v out of range [-180, 180]", *g.Lon)
		}
	}
	return nil
}

// decodeHex decodes s into dst (len(s) == 2*len(dst)) without converting
// s to a byte slice, which would allocate on every scored password.
func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// dropInvisible drops, for strings.Map, Unicode's default ignorable code
// points (as near as the standard library's tables give them: format
// characters such as zero-width spaces, joiners, bidi controls and soft
// hyphens; variation selectors; and the other default ignorables, such as
// the Hangul fillers), which render as nothing. The format characters
// that Unicode leaves out of them because they show (the prepended
// concatenation marks, such as the Arabic number sign) are kept.
func dropInvisible(r rune) rune {
	if unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) &&
		!unicode.Is(unicode.Prepended_Concatenation_Mark, r) {
		return -1
	}
	return r
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// NormalizeUsername is how usernames are counted: trimmed, lower-cased,
// and, beyond ASCII, in Unicode compatibility form (NFKC), which maps
// fullwidth and halfwidth letters to their plain forms, without the
// characters that render as nothing (invisible). Identity servers
// that follow RFC 8265 (PRECIS usernames) map widths before matching, and
// an East Asian keyboard's input method types fullwidth letters: without
// it "ＡＬＩＣＥ@example.com" and "alice@example.com", one account, were
// two usernames to every window. Invisible characters (a zero-width space,
// a soft hyphen, a bidi control) are refused by PRECIS and dropped by
// many identity servers' input handling, and to a person reading a log
// the name looks the same: a stuffing run that sprinkled them into one
// username was a new username to every window at each attempt. They go
// before the compatibility form: one between a letter and its combining
// mark keeps the two from composing. It allocates only when it must.
//
// Every Score normalises its username: the bytes are read a word at a time
// (see plainASCII), looking for a byte >= 0x80 and for an upper-case
// letter. TestNormalizeUsernameWords compares it with a byte at a time.
func NormalizeUsername(s string) string {
	var high, upper uint64 // the high bits of the bytes >= 0x80, of the upper-case letters
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			high |= uint64(s[i] & 0x80)
			if c := s[i]; c >= 'A' && c <= 'Z' {
				upper = 1
			}
		}
	} else {
		// The last word overlaps what was read: a byte read twice
		// answers the same.
		for i := 0; ; i += 8 {
			x := word(s, min(i, len(s)-8))
			high |= x & highBits
			// With no high bit set, adding 0x3f to a byte sets its high
			// bit when it is 'A' or above, adding 0x25 when above 'Z';
			// neither carries into the next byte. A word with a high
			// bit set may say anything: high takes the other way.
			upper |= (x + (0x80-'A')*oneBytes) &^ (x + (0x80-'Z'-1)*oneBytes) & highBits
			if i+8 >= len(s) {
				break
			}
		}
	}
	if high != 0 {
		return strings.ToLower(strings.TrimSpace(norm.NFKC.String(strings.Map(dropInvisible, s))))
	}
	if s = strings.TrimSpace(s); upper != 0 {
		return strings.ToLower(s)
	}
	return s
}
