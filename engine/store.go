package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"
)

// Store holds baselines, attack windows and pending decisions. Two
// implementations exist (engine/memstore, engine/redisstore) and both pass
// the conformance suite in engine/storetest.
//
// Score makes exactly one Observe call, which both records the attempt in
// the windows and reads everything the signals need, so that a network store
// can answer in one round trip. What the decision implies (learning a
// completed login, remembering the decision for Report) goes through Commit,
// which a network store may apply asynchronously but must make visible to
// later calls on the same Store.
type Store interface {
	// Observe records ev in the attack windows and fills st with the user's
	// profile and the window counts, which include ev.
	Observe(ctx context.Context, ev *Event, st *State) error
	// Record adds ev to the attack windows without reading anything; Report
	// uses it for failures learned after the decision.
	Record(ctx context.Context, ev *Event) error
	// Commit applies the consequences of a decision. c and what it
	// points to are the caller's again once Commit returns (the engine
	// reuses them for its next call): a store applying it later copies
	// what it needs.
	Commit(ctx context.Context, c *Commit) error
	// TakePending returns and deletes the pending decision with this id.
	TakePending(ctx context.Context, tenant, decisionID string) (Pending, bool, error)
	// Profile returns what is held on the user.
	Profile(ctx context.Context, tenant string, user Key) (Profile, bool, error)
	// Forget erases the user's profile, account windows and pending
	// decisions, and the records of the user's attempts (those whose
	// Event.User was user) kept for the attempt window: each such attempt
	// id stays remembered, so that a redelivery is still not counted
	// again, but holds nothing any more (State.Erased), and a Commit of a
	// decision for it after the erasure keeps nothing either.
	Forget(ctx context.Context, tenant string, user Key) error
	// Close flushes buffered writes and releases resources.
	Close(ctx context.Context) error
}

// ErrUnavailable is wrapped by store errors that mean "could not reach the
// state", as opposed to bad arguments.
var ErrUnavailable = errors.New("store unavailable")

// Key is a keyed hash (HMAC-SHA-256, truncated) of an identifier: a user id,
// a username, a device id or a password hash. Stores only ever see keys.
type Key [16]byte

// IsZero reports whether k is the zero key, meaning "absent".
func (k Key) IsZero() bool { return k == Key{} }

func (k Key) String() string { return hex.EncodeToString(k[:]) }

// MarshalText encodes k as hex.
func (k Key) MarshalText() ([]byte, error) {
	b := make([]byte, 32)
	hex.Encode(b, k[:])
	return b, nil
}

// Event is one attempt (or one late failure) as the windows count it. Absent
// parts are zero: no Username key, no ASN, no Password key.
type Event struct {
	Tenant   string
	Time     time.Time
	User     Key          // keyed user_id; zero when the user is unknown
	Account  Key          // keyed user_id, or keyed username when user_id is empty
	Username Key          // keyed normalised username, for distinct counts
	IP       netip.Addr   // the address the address windows count (WindowAddr: an IPv6 address's /64); always valid
	Subnet   netip.Prefix // the /24 or /48 of IP
	ASN      uint32
	Password Key  // keyed password hash, for spraying
	Attempt  bool // count the attempt: tenant attempts, distinct usernames and accounts
	Failed   bool // count a failure: per IP, subnet, ASN, account and tenant
	// AttemptID is the keyed attempt_id (Keyer.Attempt), zero when the
	// attempt carries none. Observe counts an event with an AttemptID at
	// most once within the store's attempt window, whichever node
	// observes it: a redelivery is only read (State.Replayed). Observe
	// alone uses it. The attempt is its User's, when User is not zero:
	// Forget of that user erases what is kept under the attempt id.
	AttemptID Key
}

// NetCounts are counts for an address, subnet or ASN over the short
// windows (ShortWindows: 10m, 1h, 24h).
type NetCounts struct {
	Failures  [3]uint32
	Usernames [3]uint32
}

// Counts are the attack windows an Observe returns.
type Counts struct {
	IP, Subnet, ASN  NetCounts
	AccountFailures  [3]uint32 // the long windows: 1h, 24h, 7d
	PasswordAccounts [3]uint32 // distinct accounts, the long windows
	TenantAttempts   [3]uint32 // the short windows: 10m, 1h, 24h
	TenantFailures   [3]uint32 // the short windows
}

// State is what Observe reads. Stores fill it in place and reuse its slices.
type State struct {
	HasProfile bool
	Profile    Profile
	Counts     Counts
	// Replayed is set when the event's AttemptID was observed before,
	// within the attempt window: the event was not counted again, and
	// Decided holds the record Commit stored for it (Commit.Decided), or
	// is empty when none was stored yet.
	Replayed bool
	Decided  []byte
	// Erased is set with Replayed when the attempt's user was erased
	// (Store.Forget) since the attempt was first observed: Decided is
	// empty, and stays so. The attempt was counted once, and is not
	// counted again.
	Erased bool
	// ProfileSource is opaque to the engine: a store that decodes Profile
	// from an encoding it keeps (engine/memstore) may note that encoding
	// here, so that learning the same login (Commit.Observed) need not
	// decode it a second time when it is still the one stored.
	ProfileSource []byte
}

// Reset empties s, keeping slice capacity.
func (s *State) Reset() {
	p, d := s.Profile, s.Decided
	*s = State{Decided: d[:0]}
	s.Profile.reuse(&p)
}

// Profile is a user's baseline. Sets are capped; when a set is full the
// least useful entry (fewest logins, then oldest) makes room.
type Profile struct {
	Logins    uint32     `json:"logins"`
	FirstSeen int64      `json:"first_seen"` // unix seconds
	LastSeen  int64      `json:"last_seen"`
	Last      LastLogin  `json:"last"`
	Devices   []Seen     `json:"devices,omitempty"`   // keyed device ids (raw key bytes)
	Agents    []Seen     `json:"agents,omitempty"`    // user-agent families
	Countries []Seen     `json:"countries,omitempty"` // ISO codes
	Cities    []Seen     `json:"cities,omitempty"`    // "CC/City"
	ASNs      []Seen     `json:"asns,omitempty"`      // decimal ASN
	Networks  []Seen     `json:"networks,omitempty"`  // subnets (/24, /48) in text form
	Hours     [24]uint32 `json:"hours"`               // completed logins per UTC hour

	// How the user's history grew, for the statistical score
	// (signals/rba.go): how often a login brought something new.
	NewDevices uint32 `json:"new_devices,omitempty"` // completed logins on a device id the profile did not hold
	NoDevice   uint32 `json:"no_device,omitempty"`   // completed logins without a device id
	// ASNNetworks counts, per ASN (decimal, as in ASNs), the completed
	// logins on it from a subnet the profile did not hold: a home line
	// keeps its subnet for weeks, a mobile carrier changes it every session.
	ASNNetworks []Seen `json:"asn_networks,omitempty"`
	// AgentVersions holds, per user-agent family (as in Agents), the
	// newest browser major version a completed login came with (in Count).
	AgentVersions []Seen `json:"agent_versions,omitempty"`
}

// Seen is one member of a profile set.
type Seen struct {
	Value string `json:"value"`
	Count uint32 `json:"count"`
	Last  int64  `json:"last"` // unix seconds
}

// LastLogin is the last completed login, at city precision, with the
// location of the last located one when it had none (see FixTime).
type LastLogin struct {
	Time        int64      `json:"time"` // unix seconds; 0 when none
	IP          netip.Addr `json:"ip"`
	Country     string     `json:"country,omitempty"`
	City        string     `json:"city,omitempty"`
	HasLocation bool       `json:"has_location"`
	Lat         float64    `json:"lat,omitempty"`
	Lon         float64    `json:"lon,omitempty"`
	AccuracyKM  float64    `json:"accuracy_km,omitempty"`
	// FixTime is when the location above was seen, when that was not the
	// last login itself: a login located only to its country keeps the
	// fix of the last located login before it (for at most a day). 0 when
	// the fix is the last login's own.
	FixTime int64 `json:"fix_time,omitempty"`
}

// fixTime is when the location was seen.
func (l *LastLogin) fixTime() int64 {
	if l.FixTime != 0 {
		return l.FixTime
	}
	return l.Time
}

// FixCarried reports whether the location is an earlier login's, carried
// past a last login without coordinates; FixTime is then its time.
func (l *LastLogin) FixCarried() bool { return l.HasLocation && l.FixTime != 0 }

// Login is a completed login: what Commit teaches the baseline.
type Login struct {
	Tenant       string
	User         Key
	Time         time.Time
	IP           netip.Addr
	Subnet       netip.Prefix
	Device       Key    // zero when no device id
	Agent        string // user-agent family; empty when none
	AgentVersion uint16 // browser major version; 0 when none
	Country      string
	City         string // "" when unknown
	HasLocation  bool
	Lat, Lon     float64
	AccuracyKM   float64
	ASN          uint32
}

// Pending is a decision awaiting its outcome. It holds what Report needs to
// count a failure or learn the login, and nothing that identifies the user
// in clear.
type Pending struct {
	DecisionID string
	Action     Action
	Result     Result
	Event      Event // the attempt's window keys
	Login      Login // what a completed login would teach
}

// Commit is what Score or Report asks the store to apply after a decision.
type Commit struct {
	Learn   *Login   // a completed login to learn, or nil
	Pending *Pending // a decision to remember for Report, or nil
	Decided *Decided // the decision of an attempt with an attempt_id, or nil
	// Observed, when not nil, is the state Observe read for the attempt
	// being learned (Learn): a store may learn into Observed.Profile, in
	// place, instead of decoding its own copy again, when its copy is
	// still the one Observed.ProfileSource names. The engine reads
	// neither after Commit.
	Observed *State
}

// Decided is a decision kept under its attempt's AttemptID for the
// attempt window, so that a redelivery observed by any node gets it back
// (State.Decided). Record is opaque to the store, and never shorter than
// MinRecord bytes. A store may keep values of its own under an attempt id
// (an erased attempt's mark), told apart from records by their content:
// nodes of earlier versions reading a shared store take them for
// records. A store keeps no record for an
// attempt erased with its user (Store.Forget): a Decided that comes after
// the erasure is dropped.
//
// A Record of MinRecord bytes is a mark, not a decision: the attempt's
// fingerprint alone, kept for an attempt that will have no decision (its
// Score abandoned, or its outcome reported first), so that a redelivery
// decides at once rather than wait for one. A store keeps a mark only
// where the attempt is remembered and holds nothing yet: it never
// replaces a decision, another mark or an erased attempt's mark, and an
// attempt it does not remember gets none (it would read as counted).
type Decided struct {
	Tenant    string
	AttemptID Key
	// User is the attempt's Event.User (zero when the user is unknown):
	// Forget of that user erases the record.
	User   Key
	Record []byte
}

// MinRecord is the shortest Decided.Record, and the length of a mark:
// the engine's records begin with an 8-byte fingerprint of the attempt.
const MinRecord = fingerprintLen
