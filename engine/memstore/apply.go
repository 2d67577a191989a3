package memstore

import (
	"encoding/binary"
	"net/netip"

	"github.com/riskgate/riskgate/engine"
)

// An event's windows (its address, subnet, ASN, account and password) and
// its user's profile are found together, under all their shards' locks at
// once, before any of them is written. In a store larger than the CPU's
// caches each lookup misses twice (its slot, then its entry), and looked
// up one after the other, each under its own lock, those misses came one
// at a time: a lock's atomic instruction waits for every load and store
// before it. Found in passes (every first slot, then every entry), the
// lookups' misses overlap: BenchmarkScoreRandom (100,000 users, out of
// cache) takes about 5% less CPU per Score. The tenant's window, which
// every event touches and which stays in cache, keeps a lock of its own:
// holding it for the whole event would make every Score on the node wait
// in turn.
//
// The shards are locked in index order, and nothing else holds two shard
// locks at a time, so no two events can wait on each other. Each is
// unlocked as soon as the event's last window in it is written.

// maxProbes is the most windows an event touches besides its tenant's.
const maxProbes = 5

// probe is one window key of an event, and what finding it gave.
type probe struct {
	k     windowID
	sh    *shard
	shard int // index in Store.shards
	list  *windowTable
	h     uint32
	first uint32 // the slot where h's probe run starts
	// i is k's entry (or -1) as found before any window was written; it
	// stands while the table's gen is still gen.
	i   int32
	gen uint32
}

// batch is an event's probes and its profile's lookup.
type batch struct {
	p [maxProbes]probe
	n int
	// The profile's shard (nil when the event has no user), key, hash
	// and entry.
	prof      *shard
	profShard int
	profKey   userID
	profHash  uint32
	profIndex int32
}

// add adds window key (th, kind, id).
func (b *batch) add(s *Store, th tenantHash, kind windowKind, id [16]byte) {
	b.p[b.n].set(s, th, kind, id)
	b.n++
}

// set makes p window key (th, kind, id), not yet found.
func (p *probe) set(s *Store, th tenantHash, kind windowKind, id [16]byte) {
	p.k = windowID{th, kind, id}
	x := s.windowHash(&p.k)
	p.shard = int(x % uint64(len(s.shards)))
	p.sh = &s.shards[p.shard]
	p.h = uint32(x >> 32)
	p.list = p.sh.listFor(kind)
}

// windows adds the event's window keys, the tenant's aside.
func (b *batch) windows(s *Store, ev *engine.Event, th tenantHash) {
	b.add(s, th, kindIP, addrID(ev.IP))
	if ev.Subnet.IsValid() {
		b.add(s, th, kindSubnet, addrID(ev.Subnet.Addr()))
	}
	if ev.ASN != 0 {
		var id [16]byte
		binary.BigEndian.PutUint32(id[:4], ev.ASN)
		b.add(s, th, kindASN, id)
	}
	if !ev.Account.IsZero() {
		b.add(s, th, kindAccount, ev.Account)
		if !ev.Password.IsZero() {
			b.add(s, th, kindPassword, ev.Password)
		}
	}
}

// profile adds the lookup of user's profile.
func (b *batch) profile(s *Store, th tenantHash, user engine.Key) {
	b.profKey = userID{th, user}
	b.profShard = s.shardIndex(th, user)
	b.prof = &s.shards[b.profShard]
	b.profHash = b.profKey.hash()
}

// shards returns the indexes of the batch's shards, each once, in order,
// and how many there are.
func (b *batch) shards() (set [maxProbes + 1]int, n int) {
	if b.prof != nil {
		set[0], n = b.profShard, 1
	}
	for i := range b.p[:b.n] {
		n = insertShard(&set, n, b.p[i].shard)
	}
	return set, n
}

// insertShard inserts shard index i into the first n of set, kept in
// order without repeats, and returns their new count.
func insertShard(set *[maxProbes + 1]int, n, i int) int {
	for _, j := range set[:n] {
		if j == i {
			return n
		}
	}
	k := n
	for ; k > 0 && set[k-1] > i; k-- {
		set[k] = set[k-1] // by hand: copy would call memmove
	}
	set[k] = i
	return n + 1
}

// lock locks the batch's shards of s, each once, in index order.
func (b *batch) lock(s *Store) {
	set, n := b.shards()
	for _, i := range set[:n] {
		s.shards[i].mu.Lock()
	}
}

// done unlocks, once window j is written (j = -1: once the profile is
// read), its shard unless a later window of the event is in it too: no
// shard stays locked longer than the event's part in it, and every one
// is unlocked after the last window.
func (b *batch) done(s *Store, j int) {
	shard := b.profShard
	if j >= 0 {
		shard = b.p[j].shard
	} else if b.prof == nil {
		return
	}
	for k := j + 1; k < b.n; k++ {
		if b.p[k].shard == shard {
			return
		}
	}
	s.shards[shard].mu.Unlock()
}

// find looks every key up, its shards locked: first every key's first
// slot, whose loads are independent of each other, then the entries
// those slots name.
func (b *batch) find() {
	var profFirst uint32
	if b.prof != nil {
		profFirst = b.prof.profiles.firstSlot(b.profHash)
	}
	for i := range b.p[:b.n] {
		p := &b.p[i]
		p.first = p.list.firstSlot(p.h)
	}
	if b.prof != nil {
		b.profIndex = b.prof.profiles.findFrom(&b.profKey, b.profHash, profFirst)
	}
	for i := range b.p[:b.n] {
		p := &b.p[i]
		p.i = p.list.findFrom(&p.k, p.h, p.first)
		p.gen = p.list.gen
	}
}

// apply writes ev into every window it touches and, when st is not nil,
// reads the counts back. b holds the event's window keys (windows), found
// (find) under their shards' locks, which the caller holds; each shard is
// unlocked once its windows are written (done). short is the event's time's
// buckets in the short windows (at).
func (s *Store) apply(b *batch, ev *engine.Event, st *engine.State, now int64, short *ringAt) {
	t := ev.Time.Unix()
	var c *engine.Counts
	if st != nil {
		c = &st.Counts
	}
	userHash := binary.LittleEndian.Uint64(ev.Username[:8])
	countUser := ev.Attempt && !ev.Username.IsZero()
	var long ringAt
	if !ev.Account.IsZero() {
		long = at(&longSpec, t)
	}
	for i := range b.p[:b.n] {
		p := &b.p[i]
		switch kind := p.k.kind; kind {
		case kindIP, kindSubnet, kindASN:
			out := netOut(c, kind)
			s.window(p, now, ev.Failed || countUser, func(w *window) {
				if ev.Failed {
					count(&w.failures).addAt(&shortSpec, short, 1)
				}
				if countUser {
					w.members.add(&shortLen, userHash, t, s.opts.MaxDistinct)
				}
				if out != nil {
					w.failures.sumAt(&shortSpec, short, &out.Failures)
					w.members.count(&shortLen, t, &out.Usernames)
				}
			})
		case kindAccount:
			s.window(p, now, ev.Failed, func(w *window) {
				if ev.Failed {
					count(&w.failures).addAt(&longSpec, &long, 1)
				}
				if c != nil {
					w.failures.sumAt(&longSpec, &long, &c.AccountFailures)
				}
			})
		case kindPassword:
			acct := binary.LittleEndian.Uint64(ev.Account[:8])
			s.window(p, now, ev.Attempt, func(w *window) {
				if ev.Attempt {
					w.members.add(&longLen, acct, t, s.opts.MaxDistinct)
				}
				if c != nil {
					w.members.count(&longLen, t, &c.PasswordAccounts)
				}
			})
		}
		b.done(s, i)
	}
}

// applyTenant writes ev into its tenant's window, under that window's
// shard's lock, and reads the counts back when st is not nil; short is as
// for apply.
func (s *Store) applyTenant(ev *engine.Event, th tenantHash, st *engine.State, now int64, short *ringAt) {
	var p probe
	p.set(s, th, kindTenant, [16]byte{})
	p.sh.mu.Lock()
	defer p.sh.mu.Unlock()
	p.i, p.gen = p.list.find(&p.k, p.h), p.list.gen
	s.window(&p, now, ev.Attempt || ev.Failed, func(w *window) {
		if ev.Attempt {
			count(&w.attempts).addAt(&shortSpec, short, 1)
		}
		if ev.Failed {
			count(&w.failures).addAt(&shortSpec, short, 1)
		}
		if st != nil {
			w.attempts.sumAt(&shortSpec, short, &st.Counts.TenantAttempts)
			w.failures.sumAt(&shortSpec, short, &st.Counts.TenantFailures)
		}
	})
}

func netOut(c *engine.Counts, kind windowKind) *engine.NetCounts {
	if c == nil {
		return nil
	}
	switch kind {
	case kindIP:
		return &c.IP
	case kindSubnet:
		return &c.Subnet
	}
	return &c.ASN
}

func addrID(a netip.Addr) [16]byte { return a.As16() }

// window runs f on p's window entry; p's shard is locked and p found
// (batch.find). When write is set the entry is created if absent and
// becomes the most recently used; otherwise (nothing to count: a
// successful attempt on an account, a dry run) a missing entry is left
// missing and f is not called, so reading never costs memory or reorders
// eviction.
func (s *Store) window(p *probe, now int64, write bool, f func(*window)) {
	sh, list := p.sh, p.list
	i := p.i
	if list.gen != p.gen {
		// An earlier window of the event inserted or removed an entry of
		// this table since it was found: find it again.
		i = list.find(&p.k, p.h)
	}
	kind := p.k.kind
	if i >= 0 && now-list.at(i).val.touched > ttlOf(kind) {
		// Expired: as good as absent.
		if !write {
			sh.removeWindow(list, i)
			return
		}
		w := &list.at(i).val
		sh.members -= w.members.size()
		*w = window{}
	}
	if i < 0 {
		if !write {
			return
		}
		i = list.insert(&p.k, p.h)
	} else if write {
		list.touch(i)
	}
	w := &list.at(i).val
	if write {
		w.touched = now
	}
	before := w.members.size()
	f(w)
	if grown := w.members.size() - before; grown > 0 {
		sh.members += grown
		sh.trimMembers(list, i)
	}
}

// trimMembers evicts the least recently used window keys of list, then of
// the shard's other window list, until the shard's members fit its budget;
// never keep, the entry being written.
func (sh *shard) trimMembers(list *windowTable, keep int32) {
	other := sh.accounts
	if list == sh.accounts {
		other = sh.windows
	}
	for _, l := range [...]*windowTable{list, other} {
		for sh.members > sh.memberBudget {
			o := l.oldest
			if o < 0 || l == list && o == keep {
				break
			}
			sh.removeWindow(l, o)
			l.evicted++
		}
	}
}

// removeWindow removes entry i of list, and its members from the shard's
// count.
func (sh *shard) removeWindow(list *windowTable, i int32) {
	sh.members -= list.at(i).val.members.size()
	list.remove(i)
}

func (sh *shard) listFor(kind windowKind) *windowTable {
	if kind == kindAccount || kind == kindPassword {
		return sh.accounts
	}
	return sh.windows
}

// ttlOf is how long an untouched window key is kept: its longest window.
func ttlOf(kind windowKind) int64 {
	if kind == kindAccount || kind == kindPassword {
		return longLen[2]
	}
	return shortLen[2]
}
