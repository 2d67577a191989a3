// Package heldqueue holds byte records under 16-byte keys, oldest first,
// until they are taken, expire or are pushed out by newer ones: what a
// node keeps while it waits for a login's outcome (decisions pending a
// report, notifications held for one).
//
// It is laid out for the garbage collector. Hundreds of thousands of such
// records held as Go values (a struct with strings, a list element, a map
// entry) are several pointers each for every collection to trace, and a
// mark phase over them took one of the two cores for tens of
// milliseconds under load: every call in flight waited it out. Here the
// index is a map whose keys and values hold no pointer, the records are
// a ring of fixed-size slots and their bytes a few pages of 32 KB, so the
// collector traces one pointer a page and never looks inside.
//
// A Queue is small enough to rebuild under its caller's lock (at most a
// few thousand records: callers shard): records taken out of order leave
// dead slots and bytes behind them, and once those outweigh the live
// ones the live ones are copied together again.
package heldqueue

import "fmt"

// Key names a record: a hash of what the caller keys it by.
type Key [16]byte

// pageSize is the size of a page of record bytes, the largest block Go
// allocates without rounding to whole pages; a record larger than a page
// gets a page of its own size.
const pageSize = 32 << 10

// Queue is a bounded set of records in the order they were put. It is not
// safe for concurrent use: callers hold their own lock.
type Queue struct {
	index map[Key]uint64 // a live record's sequence number
	// ring holds the slots of sequence numbers head to tail-1, slot s at
	// ring[s%len(ring)]. A slot freed out of order (taken, replaced)
	// stays in the ring, dead, until the head passes it.
	ring       []slot
	head, tail uint64
	n, max     int
	evicted    uint64 // records Put removed for room
	// pages[i] is page number first+i; a page whose records are all gone
	// is released (its bytes nil) unless it is the one being written.
	pages     []page
	first     uint64
	liveBytes int // bytes of live records
	pageBytes int // bytes of pages held
	// spare is a released page kept for the next one: pages come and go
	// at the rate records are put.
	spare []byte
}

type slot struct {
	key       Key
	expires   int64
	page      uint64 // page number; dead for a freed slot
	off, size uint32
}

const dead = ^uint64(0)

type page struct {
	b    []byte
	live int // live records in the page
}

// New returns a Queue holding at most max records.
func New(max int) *Queue {
	if max < 1 {
		panic(fmt.Sprintf("heldqueue: bound %d out of range", max))
	}
	return &Queue{index: make(map[Key]uint64), ring: make([]slot, min(max, 64)), max: max}
}

// Len is the number of records held.
func (q *Queue) Len() int { return q.n }

// Max is the most records the queue holds.
func (q *Queue) Max() int { return q.max }

// Evicted is the number of records Put has removed for room, ever.
func (q *Queue) Evicted() uint64 { return q.evicted }

// Bytes is the memory the records take: their pages and slots, and about
// what the index takes for each.
func (q *Queue) Bytes() int {
	const indexPerRecord = 40 // a 24-byte entry in a map's group, at its load factor, and its control byte
	return q.pageBytes + len(q.ring)*int(slotSize) + q.n*indexPerRecord
}

const slotSize = 40 // unsafe.Sizeof(slot{}); TestSlotSize holds it to that

// Put holds data (copied) under key until expires, replacing what key
// held. When the queue is full the oldest record goes to make room; Put
// reports how many records went (0 or 1; a replaced one does not count).
func (q *Queue) Put(key Key, expires int64, data []byte) (evicted int) {
	if s, ok := q.index[key]; ok {
		q.remove(s)
	}
	if q.n >= q.max {
		q.remove(q.head) // trimmed: the head is live
		evicted = 1
		q.evicted++
	}
	if q.tail-q.head == uint64(len(q.ring)) {
		// Full of slots, some of them dead: compact the live ones, or
		// grow when they are more than half.
		size := len(q.ring)
		if q.n*2 > size {
			size *= 2
		}
		q.rebuild(size)
	}
	pn, off := q.room(len(data))
	p := &q.pages[pn-q.first]
	p.b = append(p.b, data...)
	p.live++
	q.ring[q.tail%uint64(len(q.ring))] = slot{key: key, expires: expires, page: pn, off: off, size: uint32(len(data))}
	q.index[key] = q.tail
	q.tail++
	q.n++
	q.liveBytes += len(data)
	if q.pageBytes > 2*q.liveBytes+2*pageSize {
		// Records taken out of order leave pages held by a few live
		// ones: copy the live ones together again.
		q.rebuild(len(q.ring))
	}
	return evicted
}

// room returns the page and offset where n bytes go, adding a page when
// the last one has not the room.
func (q *Queue) room(n int) (uint64, uint32) {
	if k := len(q.pages); k > 0 {
		if p := &q.pages[k-1]; p.b != nil && cap(p.b)-len(p.b) >= n {
			return q.first + uint64(k-1), uint32(len(p.b))
		}
	}
	b := q.spare
	if n > pageSize || b == nil {
		b = make([]byte, 0, max(pageSize, n))
	}
	q.spare = nil
	q.pages = append(q.pages, page{b: b})
	q.pageBytes += cap(b)
	return q.first + uint64(len(q.pages)-1), 0
}

// Take appends key's record to dst and removes it, returning the longer
// dst and the record's expiry; ok is false when key holds nothing.
func (q *Queue) Take(dst []byte, key Key) (_ []byte, expires int64, ok bool) {
	s, ok := q.index[key]
	if !ok {
		return dst, 0, false
	}
	dst, expires = q.read(dst, s)
	q.remove(s)
	return dst, expires, true
}

// Get is Take without removing the record: its place in the order stays.
func (q *Queue) Get(dst []byte, key Key) (_ []byte, expires int64, ok bool) {
	s, ok := q.index[key]
	if !ok {
		return dst, 0, false
	}
	dst, expires = q.read(dst, s)
	return dst, expires, true
}

// read appends the record of sequence number s to dst.
func (q *Queue) read(dst []byte, s uint64) ([]byte, int64) {
	sl := q.slot(s)
	p := &q.pages[sl.page-q.first]
	return append(dst, p.b[sl.off:sl.off+sl.size]...), sl.expires
}

// Remove removes key's record, reporting whether there was one.
func (q *Queue) Remove(key Key) bool {
	s, ok := q.index[key]
	if ok {
		q.remove(s)
	}
	return ok
}

// Expire removes records, oldest first, while their expiry is not after
// now, and returns how many went. Records put with expiries out of order
// wait behind a later one.
func (q *Queue) Expire(now int64) int { return q.ExpireFunc(now, nil) }

// ExpireFunc is Expire, calling f (when not nil) with each record before
// it goes: a caller that counts its records by what they hold (a
// tenant's) uncounts them. data is valid only during the call, and f must
// not change q.
func (q *Queue) ExpireFunc(now int64, f func(data []byte)) int {
	n := 0
	for q.head < q.tail && q.slot(q.head).expires <= now {
		if f != nil {
			f(q.data(q.head))
		}
		q.remove(q.head)
		n++
	}
	return n
}

// Has reports whether key holds a record.
func (q *Queue) Has(key Key) bool {
	_, ok := q.index[key]
	return ok
}

// Oldest returns the oldest record, the one a Put into a full queue
// removes for room; ok is false when the queue is empty. data is valid
// until q changes.
func (q *Queue) Oldest() (data []byte, ok bool) {
	if q.n == 0 {
		return nil, false
	}
	return q.data(q.head), true // the head is live (remove passes dead slots)
}

// data is the bytes of the live record of sequence number s, capped.
func (q *Queue) data(s uint64) []byte {
	sl := q.slot(s)
	p := &q.pages[sl.page-q.first]
	return p.b[sl.off : sl.off+sl.size : sl.off+sl.size]
}

// Range calls f with each record, oldest first, until f returns false.
// data is valid only during the call, and f must not change q.
func (q *Queue) Range(f func(key Key, expires int64, data []byte) bool) {
	for s := q.head; s < q.tail; s++ {
		sl := q.slot(s)
		if sl.page == dead {
			continue
		}
		p := &q.pages[sl.page-q.first]
		if !f(sl.key, sl.expires, p.b[sl.off:sl.off+sl.size:sl.off+sl.size]) {
			return
		}
	}
}

func (q *Queue) slot(s uint64) *slot { return &q.ring[s%uint64(len(q.ring))] }

// remove frees the live slot s.
func (q *Queue) remove(s uint64) {
	sl := q.slot(s)
	delete(q.index, sl.key)
	i := sl.page - q.first
	p := &q.pages[i]
	p.live--
	if p.live == 0 {
		if i == uint64(len(q.pages)-1) {
			p.b = p.b[:0] // the page being written: start it again
		} else {
			q.pageBytes -= cap(p.b)
			if cap(p.b) == pageSize {
				q.spare = p.b[:0]
			}
			p.b = nil
		}
	}
	q.liveBytes -= int(sl.size)
	q.n--
	sl.page = dead
	// Release emptied pages at the front, and pass dead slots at the head.
	for len(q.pages) > 1 && q.pages[0].b == nil {
		q.pages = q.pages[1:]
		q.first++
	}
	for q.head < q.tail && q.slot(q.head).page == dead {
		q.head++
	}
}

// rebuild copies the live records, in order, into a ring of size slots
// (at least the records) and fresh pages.
func (q *Queue) rebuild(size int) {
	ring := make([]slot, max(size, q.n))
	var pages []page
	var pageBytes int
	var cur *page
	t := uint64(0)
	for s := q.head; s < q.tail; s++ {
		sl := *q.slot(s)
		if sl.page == dead {
			continue
		}
		data := q.pages[sl.page-q.first].b[sl.off : sl.off+sl.size]
		if cur == nil || cap(cur.b)-len(cur.b) < len(data) {
			size := max(pageSize, len(data))
			pages = append(pages, page{b: make([]byte, 0, size)})
			pageBytes += size
			cur = &pages[len(pages)-1]
		}
		sl.page, sl.off = uint64(len(pages)-1), uint32(len(cur.b))
		cur.b = append(cur.b, data...)
		cur.live++
		ring[t] = sl
		q.index[sl.key] = t
		t++
	}
	q.ring, q.pages, q.pageBytes, q.first, q.head, q.tail = ring, pages, pageBytes, 0, 0, t
}
