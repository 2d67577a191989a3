package memstore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// add and sum are addAt and sumAt at a time of their own, for tests: the
// store works an event's buckets out once for all its counters.
func (c *counter) add(spec *[3]ringSpec, t int64, n uint32) {
	r := at(spec, t)
	c.addAt(spec, &r, n)
}

func (c *counter) sum(spec *[3]ringSpec, t int64, out *[3]uint32) {
	r := at(spec, t)
	c.sumAt(spec, &r, out)
}

// simpleCounter is the counter as first written: every bucket found by
// its number modulo the ring's length. TestCounterMatchesSimple holds the
// counter's contiguous ring walks to it.
type simpleCounter struct {
	head [3]int64
	b    [64]uint32
}

func (c *simpleCounter) add(spec *[3]ringSpec, t int64, n uint32) {
	for i := range spec {
		s := &spec[i]
		bs := c.b[s.off : s.off+int(s.n)]
		idx := t / s.width
		switch h := c.head[i]; {
		case h == 0 || idx-h >= s.n:
			clear(bs)
			c.head[i] = idx
		case idx > h:
			for j := h + 1; j <= idx; j++ {
				bs[j%s.n] = 0
			}
			c.head[i] = idx
		case idx <= h-s.n:
			continue
		}
		v := bs[idx%s.n] + n
		if v < n {
			v = ^uint32(0)
		}
		bs[idx%s.n] = v
	}
}

func (c *simpleCounter) sum(spec *[3]ringSpec, t int64, out *[3]uint32) {
	for i := range spec {
		s := &spec[i]
		h := c.head[i]
		if h == 0 {
			out[i] = 0
			continue
		}
		bs := c.b[s.off : s.off+int(s.n)]
		idx := t / s.width
		lo := max(idx, h) - s.n + 1
		lo = max(lo, idx-s.n+1)
		hi := min(idx, h)
		var total uint32
		for j := lo; j <= hi; j++ {
			total += bs[j%s.n]
		}
		out[i] = total
	}
}

// TestCounterMatchesSimple drives the counter and the simple form with the
// same random events (steps from none to past the longest window, late
// events, counts that saturate a bucket and wrap a sum) and compares their
// state after every event and their sums read at random times around it.
func TestCounterMatchesSimple(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, spec := range []*[3]ringSpec{&shortSpec, &longSpec} {
		for round := range 300 {
			var c counter
			var m simpleCounter
			now := base.Unix() + r.Int64N(1<<20)
			for range 200 {
				switch r.IntN(6) {
				case 0: // same bucket or the next few
					now += r.Int64N(120)
				case 1: // up to a whole ring
					now += r.Int64N(spec[2].width * spec[2].n)
				case 2: // past every window
					now += r.Int64N(4 * spec[2].width * spec[2].n)
				case 3: // a few buckets of the middle ring
					now += r.Int64N(8 * spec[1].width)
				}
				ts := now
				if r.IntN(4) == 0 { // a late event
					ts -= r.Int64N(2 * spec[2].width * spec[2].n)
				}
				n := uint32(1)
				switch r.IntN(10) {
				case 0:
					n = uint32(r.Int64N(1 << 32))
				case 1:
					n = ^uint32(0) - uint32(r.IntN(3))
				case 2:
					n = uint32(r.IntN(1000))
				}
				c.add(spec, ts, n)
				m.add(spec, ts, n)
				used := spec[2].off + int(spec[2].n)
				if c.head != m.head || !slices.Equal(c.b[:used], m.b[:used]) {
					t.Fatalf("round %d: after adding %d at %d: head %v buckets %v, simple form %v %v", round, n, ts, c.head, c.b, m.head, m.b)
				}
				for i, s := range spec {
					if s.tot < 0 {
						continue
					}
					var sum uint32
					for _, v := range c.b[s.off : s.off+int(s.n)] {
						sum += v
					}
					if c.b[s.tot] != sum {
						t.Fatalf("round %d: ring %d's running total %d, its buckets add up to %d", round, i, c.b[s.tot], sum)
					}
				}
				for range 4 {
					rt := now + r.Int64N(3*spec[2].width*spec[2].n) - spec[2].width*spec[2].n
					if r.IntN(3) == 0 {
						rt = now + r.Int64N(3*spec[0].width)
					}
					var got, want [3]uint32
					c.sum(spec, rt, &got)
					m.sum(spec, rt, &want)
					if got != want {
						t.Fatalf("round %d: sum at %d (head %v): %v, simple form %v", round, rt, c.head, got, want)
					}
				}
			}
		}
	}
	if shortSpec[0].tot < 0 {
		t.Error("the short windows keep no running totals")
	}
	var c *counter
	out := [3]uint32{1, 2, 3}
	c.sum(&shortSpec, base.Unix(), &out)
	if out != [3]uint32{} {
		t.Errorf("a nil counter sums to %v", out)
	}
}

// TestMemberIndexTags drives a member set past its index with full 64-bit
// hashes (whose tags differ), evicting at its limit, and checks every
// find against a scan of the nodes; then that a probe for an absent
// member passes the members whose tags differ without reading their
// nodes, which in a large set out of cache each cost a miss.
func TestMemberIndexTags(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var d memberSet
	pool := make([]uint64, 400)
	for i := range pool {
		pool[i] = r.Uint64()
		if i%3 == 2 {
			// Same home as another member, another tag: long probe runs.
			pool[i] = pool[i-1]&^(0xffff<<32) | r.Uint64()&(0xffff<<32)
		}
	}
	now := int64(1_700_000_000)
	for step := range 20000 {
		now += int64(r.IntN(30))
		d.add(&shortLen, pool[r.IntN(len(pool))], now, 300)
		if step%101 != 0 {
			continue
		}
		for _, h := range pool {
			want := int32(-1)
			for i := range d.nodes {
				if d.nodes[i].h == h {
					want = int32(i)
				}
			}
			if got := d.find(h); got != want {
				t.Fatalf("step %d: find(%#x) = %d, scan %d", step, h, got, want)
			}
		}
	}
	mask := uint32(len(d.index) - 1)
	for p, s := range d.index {
		if s == 0 {
			continue
		}
		// An absent member with this slot's home and no member's tag.
		tags := map[uint32]bool{}
		for _, s := range d.index {
			tags[s&^mask] = true
		}
		var h uint64
		for hi := uint32(1); ; hi++ {
			if !tags[hi<<20&^mask] {
				h = uint64(hi<<20)<<32 | uint64(uint32(p)^hi<<20)
				break
			}
		}
		if slotOf(h)&mask != uint32(p) {
			t.Fatalf("absent member's home %d, want %d", slotOf(h)&mask, p)
		}
		nodes := d.nodes
		d.nodes = nil // a probe that reads a node panics
		if got := d.find(h); got != -1 {
			t.Fatalf("absent member found at %d", got)
		}
		d.nodes = nodes
		break
	}
}
