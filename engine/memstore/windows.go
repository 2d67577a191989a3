package memstore

// ringSpec is one sliding window kept as a ring of buckets: width seconds
// per bucket, n buckets, at offset off in the counter's bucket array.
type ringSpec struct {
	width int64
	n     int64
	off   int
}

// Window sets. Address-like keys need short windows (bursts), accounts and
// passwords long ones (slow brute force, slow spraying).
var (
	shortSpec = [3]ringSpec{{60, 10, 0}, {300, 12, 10}, {3600, 24, 22}}    // 10m, 1h, 24h
	longSpec  = [3]ringSpec{{300, 12, 0}, {3600, 24, 12}, {21600, 28, 36}} // 1h, 24h, 7d
	shortLen  = [3]int64{600, 3600, 86400}
	longLen   = [3]int64{3600, 86400, 7 * 86400}
)

// counter counts events in three sliding windows at bucket resolution.
type counter struct {
	head [3]int64 // bucket number of the newest bucket per window; 0 = empty
	b    [64]uint32
}

func (c *counter) add(spec *[3]ringSpec, t int64, n uint32) {
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
			continue // older than the window: nothing to count it in
		}
		v := bs[idx%s.n] + n
		if v < n {
			v = ^uint32(0)
		}
		bs[idx%s.n] = v
	}
}

// sum returns the events in each window ending at time t.
func (c *counter) sum(spec *[3]ringSpec, t int64, out *[3]uint32) {
	for i := range spec {
		s := &spec[i]
		h := c.head[i]
		if h == 0 {
			out[i] = 0
			continue
		}
		bs := c.b[s.off : s.off+int(s.n)]
		idx := t / s.width
		lo := max(idx, h) - s.n + 1 // buckets older than this were overwritten
		lo = max(lo, idx-s.n+1)
		hi := min(idx, h)
		var total uint32
		for j := lo; j <= hi; j++ {
			total += bs[j%s.n]
		}
		out[i] = total
	}
}

// distinct counts distinct members (keyed hashes) seen in three sliding
// windows, exactly up to limit members; beyond it the least recently seen
// member makes room, so counts saturate near limit in long windows, far
// above any threshold a rule would use.
type distinct struct {
	items []member
}

type member struct {
	h    uint64
	last int64
}

func (d *distinct) add(h uint64, t int64, limit int) {
	for i := range d.items {
		if d.items[i].h == h {
			if t > d.items[i].last {
				d.items[i].last = t
			}
			return
		}
	}
	if len(d.items) < limit {
		d.items = append(d.items, member{h, t})
		return
	}
	oldest := 0
	for i := range d.items {
		if d.items[i].last < d.items[oldest].last {
			oldest = i
		}
	}
	d.items[oldest] = member{h, t}
}

func (d *distinct) count(lens *[3]int64, t int64, out *[3]uint32) {
	*out = [3]uint32{}
	for i := range d.items {
		age := t - d.items[i].last
		for w := range lens {
			if age < lens[w] {
				out[w]++
			}
		}
	}
}
