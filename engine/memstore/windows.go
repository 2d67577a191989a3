package memstore

import "github.com/riskgate/riskgate/engine"

// ringSpec is one sliding window kept as a ring of buckets: width seconds
// per bucket, n buckets, at offset off in the counter's bucket array. When
// tot is not negative, b[tot] holds the sum of the ring's buckets (modulo
// 2^32, as a sum of them wraps), kept as they change, so that a read at
// the newest bucket (most reads: the event just counted) adds up none.
type ringSpec struct {
	width int64
	n     int64
	off   int
	tot   int
}

// The engine's window sets (engine.ShortWindows for address-like keys,
// engine.LongWindows for accounts and passwords) as rings, and their
// lengths in seconds.
var (
	shortSpec, shortLen = rings(engine.ShortWindows())
	longSpec, longLen   = rings(engine.LongWindows())
)

// rings lays the windows out one after the other in a counter's buckets.
func rings(ws engine.Windows) (spec [3]ringSpec, length [3]int64) {
	off := 0
	for i, w := range ws {
		spec[i] = ringSpec{width: w.Width, n: w.Buckets, off: off}
		length[i] = w.Width * w.Buckets
		off += int(w.Buckets)
	}
	if off > len(counter{}.b) {
		panic("memstore: the engine's windows need more buckets than a counter has")
	}
	// Running totals in the buckets left over, if there are enough (the
	// short windows use 46 of 64).
	for i := range spec {
		spec[i].tot = -1
		if off+len(spec) <= len(counter{}.b) {
			spec[i].tot = off + i
		}
	}
	return spec, length
}

// counter counts events in three sliding windows at bucket resolution.
type counter struct {
	head [3]int64 // bucket number of the newest bucket per window; 0 = empty
	b    [64]uint32
}

// ringAt is a time's bucket number in each ring of a spec and that
// bucket's position in its ring, worked out once per event (two integer
// divisions per ring) for all the counters the event touches, which then
// walk their rings as contiguous ranges without dividing.
type ringAt struct {
	idx [3]int64
	pos [3]int64 // idx mod the ring's length, in [0, n)
}

// at returns t's buckets in spec's rings.
func at(spec *[3]ringSpec, t int64) (r ringAt) {
	for i := range spec {
		s := &spec[i]
		idx := t / s.width
		p := idx % s.n
		if p < 0 {
			p += s.n
		}
		r.idx[i], r.pos[i] = idx, p
	}
	return r
}

// addAt counts n events at r, a time's buckets in spec (at).
func (c *counter) addAt(spec *[3]ringSpec, r *ringAt, n uint32) {
	for i := range spec {
		s := &spec[i]
		bs := c.b[s.off : s.off+int(s.n)]
		idx, p := r.idx[i], r.pos[i]
		switch h := c.head[i]; {
		case h == 0 || idx-h >= s.n:
			clear(bs)
			if s.tot >= 0 {
				c.b[s.tot] = 0
			}
			c.head[i] = idx
		case idx > h:
			// Buckets h+1 to idx start again: the idx-h positions
			// ending at p.
			if s.tot >= 0 {
				c.b[s.tot] -= ringSum(bs, p, idx-h)
			}
			ringClear(bs, p, idx-h)
			c.head[i] = idx
		case idx <= h-s.n:
			continue // older than the window: nothing to count it in
		}
		old := bs[p]
		v := old + n
		if v < n {
			v = ^uint32(0)
		}
		bs[p] = v
		if s.tot >= 0 {
			c.b[s.tot] += v - old
		}
	}
}

// sumAt returns the events in each window ending at r, a time's buckets in
// spec (at); a nil counter has seen none.
func (c *counter) sumAt(spec *[3]ringSpec, r *ringAt, out *[3]uint32) {
	if c == nil {
		*out = [3]uint32{}
		return
	}
	for i := range spec {
		s := &spec[i]
		h := c.head[i]
		if h == 0 {
			out[i] = 0
			continue
		}
		// The buckets max(idx, h)-n+1 to min(idx, h): older ones were
		// overwritten, newer ones are not in the window (a late read)
		// or not counted yet (they would start again).
		idx, p := r.idx[i], r.pos[i]
		if s.tot >= 0 && idx >= h && idx-h <= s.n/2 {
			// The ring's total less its idx-h oldest buckets, which
			// end at position p (idx-n's, as idx's).
			total := c.b[s.tot]
			if idx > h {
				total -= ringSum(c.b[s.off:s.off+int(s.n)], p, idx-h)
			}
			out[i] = total
			continue
		}
		var end, k int64 // the newest bucket's position, and how many
		if idx >= h {
			end, k = p-(idx-h), s.n-(idx-h)
			if end < 0 {
				end += s.n
			}
		} else {
			end, k = p, s.n-(h-idx)
		}
		if k <= 0 {
			out[i] = 0
			continue
		}
		out[i] = ringSum(c.b[s.off:s.off+int(s.n)], end, k)
	}
}

// ringSum adds up the k (1 to len(bs)) buckets of ring bs ending at
// position end, as one or two contiguous ranges.
func ringSum(bs []uint32, end, k int64) uint32 {
	var total uint32
	start := end - k + 1
	if start < 0 {
		for _, v := range bs[int64(len(bs))+start:] {
			total += v
		}
		start = 0
	}
	for _, v := range bs[start : end+1] {
		total += v
	}
	return total
}

// ringClear zeroes the k (1 to len(bs)) buckets of ring bs ending at
// position end.
func ringClear(bs []uint32, end, k int64) {
	start := end - k + 1
	if start < 0 {
		clear(bs[int64(len(bs))+start:])
		start = 0
	}
	clear(bs[start : end+1])
}

// distinct is a memberSet held inline while it has at most one member,
// which is what most addresses ever see (their one user): a memberSet is
// a ~100-byte allocation and a slice of members. Counts are the same as
// the memberSet's would be: one member is in a window when its last
// sighting is, as of the newest time the set has seen.
type distinct struct {
	set *memberSet // nil while at most one member has been seen
	// The one member, when has is set.
	h            uint64
	last, newest int64
	has          bool
}

// size is the number of members held.
func (d *distinct) size() int {
	if d.set != nil {
		return len(d.set.nodes)
	}
	if d.has {
		return 1
	}
	return 0
}

func (d *distinct) add(lens *[3]int64, h uint64, t int64, limit int) {
	if d.set != nil {
		d.set.add(lens, h, t, limit)
		return
	}
	t = max(t, d.newest)
	switch {
	case !d.has || d.h == h || limit <= 1:
		// New, seen again, or a full set of one whose member makes room.
		d.h, d.last, d.newest, d.has = h, t, t, true
	default:
		s := &memberSet{}
		s.init()
		s.nodes = append(s.nodes, member{h: d.h, last: d.last, prev: -1, next: -1})
		s.head, s.tail, s.newest = 0, 0, d.newest
		for w := range s.cursor {
			if d.last > d.newest-lens[w] {
				s.cursor[w], s.counts[w] = 0, 1
			}
		}
		*d = distinct{set: s}
		s.add(lens, h, t, limit)
	}
}

// count returns the members seen in each window ending at t (or at the
// newest event, if that is later).
func (d *distinct) count(lens *[3]int64, t int64, out *[3]uint32) {
	if d.set != nil {
		d.set.count(lens, t, out)
		return
	}
	*out = [3]uint32{}
	if !d.has {
		return
	}
	d.newest = max(d.newest, t)
	for w := range lens {
		if d.last > d.newest-lens[w] {
			out[w] = 1
		}
	}
}

// memberSet counts distinct members (keyed hashes) seen in three sliding
// windows, exactly up to limit members; beyond it the least recently seen
// member makes room, so counts saturate near limit in long windows, far
// above any threshold a rule would use.
//
// Members form a list ordered by last sighting, and each window keeps a
// cursor at its oldest member still inside it, with a running count: an
// add and a read cost O(1) amortised however many members there are (a
// large ASN easily has hundreds of users a day). Event times are clamped
// to be non-decreasing per set, so a slightly late event counts as now.
type memberSet struct {
	nodes []member
	// index finds members of sets past smallSet members: open addressing
	// (linear probing) over node index + 1, 0 for an empty slot; at
	// least twice as many slots as members. A Go map costs about four
	// times as much per member. A slot's bits above those an index + 1
	// needs (len(index)/2 at most) hold a tag of the member's hash, so
	// that a probe passes other members without reading their nodes:
	// each would be a cache miss in a large set out of cache.
	index  []uint32
	head   int32 // oldest, -1 when empty
	tail   int32 // newest
	newest int64
	cursor [3]int32
	counts [3]uint32
}

type member struct {
	h          uint64
	last       int64
	prev, next int32
}

// smallSet is the size up to which members are found by scanning, which
// beats a map for a handful of entries and saves its memory.
const smallSet = 16

func (d *memberSet) init() {
	d.head, d.tail = -1, -1
	d.cursor = [3]int32{-1, -1, -1}
}

func (d *memberSet) find(h uint64) int32 {
	if d.index != nil {
		mask := uint32(len(d.index) - 1)
		tag := tagOf(h)
		for p := slotOf(h) & mask; d.index[p] != 0; p = (p + 1) & mask {
			if s := d.index[p]; (s^tag)&^mask == 0 {
				if i := int32(s&mask) - 1; d.nodes[i].h == h {
					return i
				}
			}
		}
		return -1
	}
	for i := range d.nodes {
		if d.nodes[i].h == h {
			return int32(i)
		}
	}
	return -1
}

// advance moves the windows to time t, dropping members that left them.
func (d *memberSet) advance(lens *[3]int64, t int64) {
	for w := range d.cursor {
		for c := d.cursor[w]; c >= 0 && d.nodes[c].last <= t-lens[w]; c = d.cursor[w] {
			d.cursor[w] = d.nodes[c].next
			d.counts[w]--
		}
	}
}

func (d *memberSet) unlink(i int32) {
	n := &d.nodes[i]
	if n.prev >= 0 {
		d.nodes[n.prev].next = n.next
	} else {
		d.head = n.next
	}
	if n.next >= 0 {
		d.nodes[n.next].prev = n.prev
	} else {
		d.tail = n.prev
	}
}

func (d *memberSet) pushBack(i int32) {
	n := &d.nodes[i]
	n.prev, n.next = d.tail, -1
	if d.tail >= 0 {
		d.nodes[d.tail].next = i
	} else {
		d.head = i
	}
	d.tail = i
}

func (d *memberSet) add(lens *[3]int64, h uint64, t int64, limit int) {
	if d.nodes == nil {
		d.init()
	}
	t = max(t, d.newest)
	d.newest = t
	d.advance(lens, t)
	if i := d.find(h); i >= 0 {
		n := &d.nodes[i]
		for w := range d.cursor {
			if n.last <= t-lens[w] {
				d.counts[w]++ // back inside the window
				if d.cursor[w] < 0 {
					d.cursor[w] = i
				}
			} else if d.cursor[w] == i && n.next >= 0 {
				d.cursor[w] = n.next // it moves to the end; its successor is now the oldest
			}
		}
		n.last = t
		if d.tail != i {
			d.unlink(i)
			d.pushBack(i)
		}
		return
	}
	var i int32
	if len(d.nodes) < limit {
		i = int32(len(d.nodes))
		d.nodes = append(d.nodes, member{})
		if len(d.nodes) > smallSet && 2*len(d.nodes) > len(d.index) {
			d.index = make([]uint32, max(4*smallSet, 2*len(d.index)))
			for j := range d.nodes[:len(d.nodes)-1] {
				d.indexAdd(d.nodes[j].h, int32(j))
			}
		}
	} else {
		// Full: the least recently seen member makes room.
		i = d.head
		old := &d.nodes[i]
		for w := range d.cursor {
			if d.cursor[w] == i {
				d.cursor[w] = old.next
				d.counts[w]--
			}
		}
		d.unlink(i)
		if d.index != nil {
			d.indexRemove(old.h)
		}
	}
	d.nodes[i] = member{h: h, last: t}
	if d.index != nil {
		d.indexAdd(h, i)
	}
	d.pushBack(i)
	for w := range d.cursor {
		d.counts[w]++
		if d.cursor[w] < 0 {
			d.cursor[w] = i
		}
	}
}

// count returns the members seen in each window ending at t (or at the
// newest event, if that is later).
func (d *memberSet) count(lens *[3]int64, t int64, out *[3]uint32) {
	if d.nodes == nil {
		*out = [3]uint32{}
		return
	}
	if t > d.newest {
		d.newest = t
	}
	d.advance(lens, d.newest)
	*out = d.counts
}

// slotOf is where member h's probe starts in an index.
func slotOf(h uint64) uint32 { return uint32(h ^ h>>32) }

// tagOf is member h's tag, of which a slot keeps the bits above its
// index's mask.
func tagOf(h uint64) uint32 { return uint32(h >> 32) }

func (d *memberSet) indexAdd(h uint64, i int32) {
	mask := uint32(len(d.index) - 1)
	p := slotOf(h) & mask
	for d.index[p] != 0 {
		p = (p + 1) & mask
	}
	d.index[p] = tagOf(h)&^mask | uint32(i+1)
}

// indexRemove removes member h, which must be indexed, shifting later
// members of its probe run back into the hole unless their home lies
// after it.
func (d *memberSet) indexRemove(h uint64) {
	mask := uint32(len(d.index) - 1)
	p := slotOf(h) & mask
	for d.nodes[d.index[p]&mask-1].h != h {
		p = (p + 1) & mask
	}
	for q := (p + 1) & mask; d.index[q] != 0; q = (q + 1) & mask {
		if home := slotOf(d.nodes[d.index[q]&mask-1].h) & mask; (q-home)&mask >= (q-p)&mask {
			d.index[p] = d.index[q]
			p = q
		}
	}
	d.index[p] = 0
}
