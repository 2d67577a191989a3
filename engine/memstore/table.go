package memstore

import (
	"fmt"
	"math/bits"
	"unsafe"
)

// table is a bounded hash table in exact least-recently-used order,
// laid out for memory: entries live in arrays of fixed-size records
// (chunks of up to chunkBytes, never moved once a chunk is full) linked into the
// recency list by 32-bit indexes, and the index is open addressing over
// 32-bit slots (linear probing, backward-shift deletion). An entry costs
// its key, its value and 12 bytes, plus 4 to 11 bytes of slots; a Go map
// with a container/list element per entry (what golang-lru keeps) costs
// about 150 bytes more and two allocations.
//
// A slot holds an entry's index + 1 in its low idxBits bits and, above
// them, the top bits of the entry's hash as a tag, so that most probes
// that miss do not read the entry. Hashes are the caller's: the table
// never hashes a key, and a hash must not be derived from the bits that
// chose the shard.
//
// A pointer to an entry stays valid until the next insert into the same
// table (the last chunk may grow by reallocation).
type table[K comparable, V any] struct {
	slots   []uint32
	idxBits uint
	chunks  [][]entry[K, V]
	// links are the entries' places in the recency list, apart from the
	// entries (same chunks): moving an entry to the front rewrites its
	// two neighbours' links, which are entries touched at random. Packed
	// eight to a cache line, the links of a large table stay in cache
	// where the entries would not; in the entries, each touch missed on
	// two more lines, a third of the store's cache misses per Score.
	links  [][]link
	n, max int
	// evicted counts the entries removed for room (insert into a full
	// table, or trimMembers), not those expired or forgotten.
	evicted uint64
	used    int32 // indexes handed out, freed ones included
	free    int32 // head of the free list (through next), -1 when empty
	// newest and oldest are the ends of the recency list, -1 when empty.
	newest, oldest int32
	onEvict        func(*entry[K, V]) // before an entry is evicted for room
	// gen changes whenever an entry is inserted or removed: an index
	// found while gen had a value names the same entry while it keeps it.
	gen uint32
}

type entry[K comparable, V any] struct {
	key K
	val V
	h   uint32
}

// link is an entry's place in the recency list: prev is the next newer
// entry, next the next older; -1 at the ends. A free entry's next is the
// next free one.
type link struct{ prev, next int32 }

// chunkBytes is the most a chunk of entries takes: past 32 KB less the
// 8-byte header Go puts before a small block with pointers, a block is
// whole pages, so a chunk of exactly 32 KB (a profile table's: 512
// entries of 64 bytes) costs nothing over its entries. At 256 entries
// its 16 KB and header took an 18 KB block, 12% more.
const chunkBytes = 32 << 10

const (
	// maxTable is the most entries a table holds: indexes are int32.
	maxTable = 1 << 30
)

// newTable returns a table holding at most max entries; onEvict, if not
// nil, sees each entry removed to make room for a new one.
func newTable[K comparable, V any](max int, onEvict func(*entry[K, V])) *table[K, V] {
	if max < 1 || max > maxTable {
		panic(fmt.Sprintf("memstore: table bound %d out of range", max))
	}
	return &table[K, V]{max: max, idxBits: uint(bits.Len32(uint32(max))), free: -1, newest: -1, oldest: -1, onEvict: onEvict}
}

// chunkBits is the log2 of the entries a chunk of at most chunkBytes
// holds; the compiler folds it to a constant per table type.
func chunkBits[K comparable, V any]() uint {
	return uint(bits.Len(uint(chunkBytes/unsafe.Sizeof(entry[K, V]{}))) - 1)
}

// Len is the number of entries held.
func (t *table[K, V]) Len() int { return t.n }

func (t *table[K, V]) at(i int32) *entry[K, V] {
	cb := chunkBits[K, V]()
	return &t.chunks[i>>cb][i&(1<<cb-1)]
}

func (t *table[K, V]) link(i int32) *link {
	cb := chunkBits[K, V]()
	return &t.links[i>>cb][i&(1<<cb-1)]
}

func (t *table[K, V]) idxMask() uint32 { return uint32(uint64(1)<<t.idxBits - 1) }

// find returns the index of k's entry, or -1.
func (t *table[K, V]) find(k *K, h uint32) int32 {
	return t.findFrom(k, h, t.firstSlot(h))
}

// firstSlot returns the slot where h's probe run starts (0 when the table
// has no slots yet): batch.find loads the first slots of all of an
// event's keys before it reads any entry.
func (t *table[K, V]) firstSlot(h uint32) uint32 {
	if len(t.slots) == 0 {
		return 0
	}
	return t.slots[h&uint32(len(t.slots)-1)]
}

// findFrom is find given s, the slot where h's probe run starts
// (firstSlot).
func (t *table[K, V]) findFrom(k *K, h uint32, s uint32) int32 {
	mask := uint32(len(t.slots) - 1)
	im := t.idxMask()
	for p := h & mask; s != 0; {
		if (s^h)>>t.idxBits == 0 {
			if i := int32(s&im) - 1; t.at(i).key == *k {
				return i
			}
		}
		p = (p + 1) & mask
		s = t.slots[p]
	}
	return -1
}

// touch makes entry i the most recently used.
func (t *table[K, V]) touch(i int32) {
	if t.newest == i {
		return
	}
	t.unlink(i)
	t.pushNewest(i)
}

// insert adds k, which must not be present, as the most recently used
// entry with a zero value, evicting the least recently used entry when
// the table is full, and returns its index.
func (t *table[K, V]) insert(k *K, h uint32) int32 {
	if t.n >= t.max {
		o := t.oldest
		if t.onEvict != nil {
			t.onEvict(t.at(o))
		}
		t.remove(o)
		t.evicted++
	}
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.gen++
	i := t.alloc()
	e := t.at(i)
	*e = entry[K, V]{key: *k, h: h}
	t.pushNewest(i)
	t.place(h, uint32(i+1)|h>>t.idxBits<<t.idxBits)
	t.n++
	return i
}

func (t *table[K, V]) alloc() int32 {
	if i := t.free; i >= 0 {
		t.free = t.link(i).next
		return i
	}
	i := t.used
	t.used++
	cb := chunkBits[K, V]()
	c := int(i >> cb)
	if c == len(t.chunks) {
		t.chunks = append(t.chunks, nil)
		t.links = append(t.links, nil)
	}
	t.chunks[c] = grown(t.chunks[c], cb)
	t.links[c] = grown(t.links[c], cb)
	return i
}

// grown returns chunk with one more element. The last chunk grows by a
// quarter at a time up to exactly 1<<cbits elements, not by append's
// doubling: a chunk is up to 32 KB, and a table's last one would keep up
// to half of it empty, and a full one more than its elements.
func grown[E any](chunk []E, cbits uint) []E {
	if n := len(chunk); n == cap(chunk) {
		chunk = append(make([]E, 0, min(n+n/4+1, 1<<cbits)), chunk...)
	}
	return append(chunk, *new(E))
}

// place stores slot value s at the first free slot from h's home.
func (t *table[K, V]) place(h, s uint32) {
	mask := uint32(len(t.slots) - 1)
	p := h & mask
	for t.slots[p] != 0 {
		p = (p + 1) & mask
	}
	t.slots[p] = s
}

func (t *table[K, V]) grow() {
	old := t.slots
	t.slots = make([]uint32, max(8, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			t.place(t.at(int32(s&t.idxMask())-1).h, s)
		}
	}
}

// remove deletes entry i.
func (t *table[K, V]) remove(i int32) {
	t.gen++
	e := t.at(i)
	mask := uint32(len(t.slots) - 1)
	im := t.idxMask()
	p := e.h & mask
	for t.slots[p]&im != uint32(i+1) {
		p = (p + 1) & mask
	}
	// Backward shift: move later entries of the probe run into the hole
	// unless their home lies after it.
	for q := (p + 1) & mask; ; q = (q + 1) & mask {
		s := t.slots[q]
		if s == 0 {
			break
		}
		home := t.at(int32(s&im)-1).h & mask
		if (q-home)&mask >= (q-p)&mask {
			t.slots[p] = s
			p = q
		}
	}
	t.slots[p] = 0
	t.unlink(i)
	*e = entry[K, V]{} // drops what the value referenced
	t.link(i).next = t.free
	t.free = i
	t.n--
}

func (t *table[K, V]) unlink(i int32) {
	e := t.link(i)
	if e.prev >= 0 {
		t.link(e.prev).next = e.next
	} else {
		t.newest = e.next
	}
	if e.next >= 0 {
		t.link(e.next).prev = e.prev
	} else {
		t.oldest = e.prev
	}
}

func (t *table[K, V]) pushNewest(i int32) {
	e := t.link(i)
	e.prev, e.next = -1, t.newest
	if t.newest >= 0 {
		t.link(t.newest).prev = i
	} else {
		t.oldest = i
	}
	t.newest = i
}
