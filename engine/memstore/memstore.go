// Package memstore is the in-memory engine.Store: the embedded default,
// with no external process. It is sharded to keep lock contention low,
// bounded (each kind of entry has a maximum count, least recently used
// evicted first) and expires entries that have not been touched for their
// time to live. State is lost on restart; use engine/redisstore to keep it
// or to share it between scoring nodes.
package memstore

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/heldqueue"
)

// Options bound the store. Zero values take the defaults.
type Options struct {
	Shards        int // default 64
	MaxUsers      int // profiles kept, default 1,000,000; the one whose last completed login is oldest goes first
	MaxWindowKeys int // short attack windows (addresses, subnets, ASNs), default 1,000,000
	// MaxAccountKeys bounds the long windows (failures per account,
	// accounts per password; up to 7 days), default 1,000,000. They are
	// kept apart from the address windows so that a botnet cycling through
	// fresh addresses cannot evict the slow brute-force and spraying
	// evidence it is building up.
	MaxAccountKeys int
	MaxPending     int // decisions awaiting an outcome, default 500,000
	MaxDistinct    int // members per distinct-count set, default 1,000
	// MaxMembers bounds the members of all distinct-count sets together
	// (usernames per address, subnet and ASN; accounts per password),
	// default 4,000,000. Each set holds up to MaxDistinct, so without a
	// total an attacker trying many usernames from many addresses would
	// grow memory with MaxWindowKeys x MaxDistinct; past the total the
	// least recently used window keys are evicted, as past MaxWindowKeys.
	MaxMembers int
	ProfileTTL time.Duration // a profile untouched this long is erased, default 180 days
	PendingTTL time.Duration // a decision not reported within this is dropped, default 30 minutes
	// MaxAttempts bounds the attempt ids remembered so that a redelivered
	// attempt is neither counted twice nor decided differently (default
	// 100,000; the oldest first out), and AttemptWindow is
	// how long each is remembered (default 10 minutes). Each notes its
	// user, so that Forget erases its decision (attempts.go).
	MaxAttempts   int
	AttemptWindow time.Duration
	// Now is the wall clock for time-to-live; default time.Now, read
	// every 250 ms. Windows count by the events' own times, so replays of
	// old traffic work.
	Now func() time.Time
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Shards, 64)
	def(&o.MaxUsers, 1_000_000)
	def(&o.MaxWindowKeys, 1_000_000)
	def(&o.MaxAccountKeys, 1_000_000)
	def(&o.MaxPending, 500_000)
	def(&o.MaxDistinct, 1000)
	def(&o.MaxMembers, 4_000_000)
	def(&o.MaxAttempts, 100_000)
	if o.AttemptWindow <= 0 {
		o.AttemptWindow = 10 * time.Minute
	}
	if o.ProfileTTL <= 0 {
		o.ProfileTTL = 180 * 24 * time.Hour
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = 30 * time.Minute
	}
}

// Store is the in-memory engine.Store.
type Store struct {
	opts Options
	// clock is the wall clock in unix seconds when Options.Now is not
	// set: time to live needs seconds, and the sweeper's tick is cheaper
	// than two clock reads per Score.
	clock    atomic.Int64
	seed     maphash.Seed
	pendSeed maphash.Seed // the second half of a pending decision's key
	shards   []shard
	attempts *attempts
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

type shard struct {
	mu       sync.Mutex
	profiles *table[userID, profileEntry]
	windows  *windowTable     // addresses, subnets, ASNs, tenant
	accounts *windowTable     // accounts, passwords
	pending  *heldqueue.Queue // pending.go
	// members counts the distinct-set members of the shard's windows,
	// kept under memberBudget (Options.MaxMembers over the shards).
	members, memberBudget int
}

// Tenants appear in keys as a 64-bit seeded hash rather than a string: a
// fixed-size key hashes and compares faster, and a collision between two
// tenant names has odds of 2^-64.
type tenantHash uint64

func (s *Store) tenant(name string) tenantHash { return tenantHash(maphash.String(s.seed, name)) }

type userID struct {
	tenant tenantHash
	key    engine.Key
}

// hash is k's hash in its shard's table: bits of the key that did not
// choose the shard (shardFor).
func (k *userID) hash() uint32 {
	return binary.LittleEndian.Uint32(k.key[8:12]) ^ uint32(k.tenant>>32)
}

// windowKind is a uint64, not a byte, so that a windowID has no padding:
// it hashes as one block of 32 bytes (windowHash) and compares as one.
type windowKind uint64

const (
	kindIP windowKind = iota + 1
	kindSubnet
	kindASN
	kindAccount
	kindPassword
	kindTenant
)

type windowID struct {
	tenant tenantHash
	kind   windowKind
	id     [16]byte
}

// windowHash hashes a windowID's memory, so it must hold no padding
// (whose bytes are not part of the key): this fails to compile if it does.
var _ [0]struct{} = [unsafe.Sizeof(windowID{}) - unsafe.Sizeof(tenantHash(0)) - unsafe.Sizeof(windowKind(0)) - unsafe.Sizeof([16]byte{})]struct{}{}

// windowHash is k's seeded hash: the low bits pick its shard, the high
// ones are its hash in the shard's table. Addresses and ASNs are not
// uniformly distributed, so they are mixed; the key's 32 bytes in one go
// cost about half of what maphash.Comparable's field by field hashing of
// a padded key did.
func (s *Store) windowHash(k *windowID) uint64 {
	return maphash.Bytes(s.seed, unsafe.Slice((*byte)(unsafe.Pointer(k)), unsafe.Sizeof(*k)))
}

type profileEntry struct {
	blob    []byte // encodeProfile's; never modified (profile.go)
	touched int64  // wall clock, unix seconds
}

// window is one attack-window key. Which fields are used depends on its
// kind: failures and usernames for addresses, subnets and ASNs; failures
// for accounts; members for passwords (accounts tried); attempts and
// failures for the tenant.
type window struct {
	touched int64 // wall clock
	// The counters are allocated at their first event: most addresses
	// only ever see successful logins, and a counter is 280 bytes.
	failures *counter
	attempts *counter
	members  distinct
}

// count returns *c, allocating it on first use.
func count(c **counter) *counter {
	if *c == nil {
		*c = new(counter)
	}
	return *c
}

// windowTable holds window keys. A window is held in its entry, not
// behind a pointer: most are an address's, with one member and no
// counter.
type windowTable = table[windowID, window]

var _ engine.Store = (*Store)(nil)

// New returns a Store and starts its expiry sweeper; Close stops it.
func New(opts Options) *Store {
	opts.defaults()
	s := &Store{opts: opts, seed: maphash.MakeSeed(), pendSeed: maphash.MakeSeed(), shards: make([]shard, opts.Shards), attempts: newAttempts(opts.MaxAttempts), stop: make(chan struct{}), done: make(chan struct{})}
	per := func(total int) int { return min(maxTable, max(1, (total+opts.Shards-1)/opts.Shards)) }
	for i := range s.shards {
		sh := &s.shards[i]
		// A shard's budget holds at least one full set, so that a set
		// being filled never has to evict itself.
		sh.memberBudget = max(per(opts.MaxMembers), opts.MaxDistinct)
		dropped := func(e *entry[windowID, window]) { sh.members -= e.val.members.size() }
		sh.profiles = newTable[userID, profileEntry](per(opts.MaxUsers), nil)
		sh.windows = newTable(per(opts.MaxWindowKeys), dropped)
		sh.accounts = newTable(per(opts.MaxAccountKeys), dropped)
		sh.pending = heldqueue.New(per(opts.MaxPending))
	}
	s.clock.Store(time.Now().Unix())
	go s.sweep()
	return s
}

// Shards are picked by bytes of the key that are already uniformly
// distributed (HMAC output, tenant hash), so no hashing is needed.
func (s *Store) shardFor(t tenantHash, user engine.Key) *shard {
	return &s.shards[s.shardIndex(t, user)]
}

func (s *Store) shardIndex(t tenantHash, user engine.Key) int {
	return int((uint64(t) ^ binary.LittleEndian.Uint64(user[:8])) % uint64(len(s.shards)))
}

func (s *Store) now() int64 {
	if s.opts.Now != nil {
		return s.opts.Now().Unix()
	}
	return s.clock.Load()
}

// Observe implements engine.Store.
func (s *Store) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	th := s.tenant(ev.Tenant) // once for the attempt, the profile and the windows
	if !ev.AttemptID.IsZero() && s.attempts.observe(attemptID{th, ev.AttemptID}, ev.User, now, int64(s.opts.AttemptWindow/time.Second), st) {
		// A redelivery: read the windows, as a dry run does.
		ro := *ev
		ro.Attempt, ro.Failed = false, false
		ev = &ro
	}
	var b batch
	b.windows(s, ev, th)
	if !ev.User.IsZero() {
		b.profile(s, th, ev.User)
	}
	b.lock(s)
	b.find()
	// Peek, not Get: a read does not touch the profile (only a completed
	// login does), so it must not reorder the LRU either. Expire relies
	// on LRU order being touch order, and attempts that teach nothing (an
	// attacker's failures) must not decide which profiles the bound
	// evicts.
	var blob []byte
	if i := b.profIndex; b.prof != nil && i >= 0 {
		if e := &b.prof.profiles.at(i).val; now-e.touched < int64(s.opts.ProfileTTL/time.Second) {
			blob = e.blob
		}
	}
	b.done(s, -1)                           // the profile's shard, unless a window is in it too
	short := at(&shortSpec, ev.Time.Unix()) // the event's buckets, for every short counter it touches
	s.apply(&b, ev, st, now, &short)
	s.applyTenant(ev, th, st, now, &short)
	// Decoded outside the locks: the blob is immutable.
	st.HasProfile = blob != nil && decodeProfile(blob, &st.Profile) == nil
	if st.HasProfile {
		st.ProfileSource = blob
	}
	return nil
}

// Record implements engine.Store.
func (s *Store) Record(ctx context.Context, ev *engine.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	th, now := s.tenant(ev.Tenant), s.now()
	var b batch
	b.windows(s, ev, th)
	b.lock(s)
	b.find()
	short := at(&shortSpec, ev.Time.Unix())
	s.apply(&b, ev, nil, now, &short)
	s.applyTenant(ev, th, nil, now, &short)
	return nil
}

// Forget implements engine.Store: the profile, the account's failure
// window and every pending decision of the user go, and the records of
// the user's attempts kept for redeliveries are erased (attempts.go).
func (s *Store) Forget(ctx context.Context, tenant string, user engine.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	th := s.tenant(tenant)
	sh := s.shardFor(th, user)
	sh.mu.Lock()
	k := userID{th, user}
	if i := sh.profiles.find(&k, k.hash()); i >= 0 {
		sh.profiles.remove(i)
	}
	sh.mu.Unlock()
	var p probe
	p.set(s, th, kindAccount, [16]byte(user))
	p.sh.mu.Lock()
	if i := p.list.find(&p.k, p.h); i >= 0 {
		p.sh.removeWindow(p.list, i)
	}
	p.sh.mu.Unlock()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		var gone []heldqueue.Key
		sh.pending.Range(func(k heldqueue.Key, _ int64, form []byte) bool {
			if t, u, ok := pendingOwner(form); ok && t == th && u == user {
				gone = append(gone, k)
			}
			return true
		})
		for _, k := range gone {
			sh.pending.Remove(k)
		}
		sh.mu.Unlock()
	}
	s.attempts.forget(th, user, s.now())
	return nil
}

// Close implements engine.Store: it stops the sweeper. Nothing is buffered.
func (s *Store) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Len reports how many profiles, window keys and pending decisions are held.
func (s *Store) Len() (profiles, windows, pending int) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		profiles += sh.profiles.Len()
		windows += sh.windows.Len() + sh.accounts.Len()
		pending += sh.pending.Len()
		sh.mu.Unlock()
	}
	return
}

// Members reports how many distinct-set members the windows hold.
func (s *Store) Members() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.members
		sh.mu.Unlock()
	}
	return n
}

// sweepInterval is how often expired entries are removed. Expired entries
// are also ignored on access, so this only bounds how long erased-by-TTL
// data lingers in memory.
const sweepInterval = time.Minute

func (s *Store) sweep() {
	defer close(s.done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	clock := time.NewTicker(clockInterval)
	defer clock.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-clock.C:
			s.clock.Store(now.Unix())
		case <-t.C:
			s.Expire()
		}
	}
}

// clockInterval is how often the coarse clock is read: time to live is
// counted in seconds.
const clockInterval = 250 * time.Millisecond

// Expire removes entries whose time to live has passed. The LRU order is
// touch order, so each list is trimmed from its oldest end until an entry
// is still alive.
func (s *Store) Expire() {
	now := s.now()
	profileTTL := int64(s.opts.ProfileTTL / time.Second)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for o := sh.profiles.oldest; o >= 0 && now-sh.profiles.at(o).val.touched >= profileTTL; o = sh.profiles.oldest {
			sh.profiles.remove(o)
		}
		for _, list := range [...]*windowTable{sh.windows, sh.accounts} {
			for o := list.oldest; o >= 0; o = list.oldest {
				e := list.at(o)
				if now-e.val.touched <= ttlOf(e.key.kind) {
					break
				}
				sh.removeWindow(list, o)
			}
		}
		sh.pending.Expire(now)
		sh.mu.Unlock()
	}
}
