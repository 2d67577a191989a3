package redisstore

import (
	"errors"
	"fmt"

	"github.com/riskgate/riskgate/engine"
)

// The client half of the windows: the batch script returns a subject's
// state value as it stands after the event, and these functions count it,
// with the memory store's semantics (engine/memstore/windows.go): a ring
// of buckets per window, sums of the buckets in the window ending at the
// event's time, and a small set counting each member by its last
// sighting.

const (
	flagRings  = 1 // the state holds counter rings
	flagHLL    = 2 // the distinct members are in HyperLogLogs
	flagSorted = 8 // the distinct members are in a sorted set, the state keeps its counts
	// flagSortedV1 is the sorted set's form before its counts were kept
	// (the state held only the time to live bucket): the script converts
	// it when it meets one, and never returns it.
	flagSortedV1 = 4
)

// hllState is the size of a state's HyperLogLog part: per window, the
// union's bucket, the newest bucket with data, a mask of the buckets with
// data and the union's count.
const hllState = 48

var errState = errors.New("malformed window state")

// ringSum adds up, for each window of sp, the buckets of the ring at
// ring[0:] in the window ending at t.
func ringSum[T ~string | ~[]byte](ring T, sp *engine.Windows, t int64, out *[3]uint32) {
	off := 0
	for i := range sp {
		w, n := sp[i].Width, sp[i].Buckets
		h := int64(be32(ring[off:]))
		var total uint64
		if h != 0 {
			idx := t / w
			lo := max(idx, h) - n + 1
			hi := min(idx, h)
			for j := lo; j <= hi; j++ {
				total += uint64(be32(ring[off+4+4*int(j%n):]))
			}
		}
		out[i] = uint32(min(total, 1<<32-1))
		off += 4 + 4*int(n)
	}
}

// ringAdd is ringAdd of the batch script, on a Go ring (for the tenant
// counts a node aggregates).
func ringAdd(ring []byte, sp *engine.Windows, t int64, k uint32) {
	off := 0
	for i := range sp {
		w, n := sp[i].Width, sp[i].Buckets
		idx := t / w
		h := int64(be32b(ring[off:]))
		bs := ring[off+4 : off+4+4*int(n)]
		switch {
		case h == 0 || idx-h >= n:
			clear(bs)
			put32(ring[off:], uint32(idx))
		case idx > h:
			for j := h + 1; j <= idx; j++ {
				put32(bs[4*(j%n):], 0)
			}
			put32(ring[off:], uint32(idx))
		case idx <= h-n:
			off += 4 + 4*int(n)
			continue
		}
		p := bs[4*(idx%n):]
		v := uint64(be32b(p)) + uint64(k)
		put32(p, uint32(min(v, 1<<32-1)))
		off += 4 + 4*int(n)
	}
}

// sumRings is ringSum, after adding a failure at t that the script wrote
// in place (the rings it returned are from before) when add.
func sumRings(ring string, sp *engine.Windows, t int64, add bool, out *[3]uint32) {
	if !add {
		ringSum(ring, sp, t, out)
		return
	}
	var buf [4 * 67]byte // the longest rings: longSpec's
	b := buf[:copy(buf[:], ring)]
	ringAdd(b, sp, t, 1)
	ringSum(b, sp, t, out)
}

func be32b(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// countState reads a subject's result as the batch script returned it: a
// byte telling whether its rings include the event's failure, the state
// value, then its distinct counts when it has some. It sets failures (nil:
// the subject has no counter series; failed: the event recorded one) and
// distinct counts (nil: none), at time t.
func countState(res string, ring, dist *engine.Windows, t int64, failed bool, failures, distinct *[3]uint32) error {
	if len(res) < 2 {
		return fmt.Errorf("%w: result of %d bytes", errState, len(res))
	}
	applied := res[0] == 1
	res = res[1:]
	flags := res[0]
	d := 1
	if flags&flagRings != 0 {
		if ring == nil || len(res) < 1+ringSize(ring) {
			return errState
		}
		if failures != nil {
			sumRings(res[1:1+ringSize(ring)], ring, t, failed && !applied, failures)
		}
		d += ringSize(ring)
	} else if failures != nil {
		*failures = [3]uint32{}
	}
	if dist == nil || distinct == nil {
		return nil
	}
	rest := res[d:]
	if flags&flagSorted != 0 {
		// The time to live bucket, then the counts the script keeps: the
		// finest bucket they were taken at, which is the attempt's, and
		// one per window.
		if len(rest) != 4+16 || int64(be32(rest[4:])) != t/dist[0].Width {
			return fmt.Errorf("%w: sorted set counts of %d bytes, not of the attempt's bucket", errState, len(rest))
		}
		for i := range distinct {
			distinct[i] = be32(rest[8+4*i:])
		}
		return nil
	}
	if flags&(flagHLL|flagSortedV1) != 0 {
		// The script counted: the HyperLogLog state or the time to live
		// bucket, then the counts.
		skip := 4
		if flags&flagHLL != 0 {
			skip = hllState
		}
		if len(rest) != skip+12 {
			return fmt.Errorf("%w: distinct part of %d bytes", errState, len(rest))
		}
		for i := range distinct {
			distinct[i] = be32(rest[skip+4*i:])
		}
		return nil
	}
	if len(rest) < 4 {
		return fmt.Errorf("%w: distinct part of %d bytes", errState, len(rest))
	}
	rest = rest[4:]
	// A few members, counted here.
	if len(rest)%10 != 0 {
		return fmt.Errorf("%w: set of %d bytes", errState, len(rest))
	}
	w0 := dist[0].Width
	*distinct = [3]uint32{}
	for e := 0; e < len(rest); e += 10 {
		b := int64(be32(rest[e+6:]))
		for i := range dist {
			ratio := dist[i].Width / w0
			idx := t / dist[i].Width
			if bi := b / ratio; bi > idx-dist[i].Buckets && bi <= idx {
				distinct[i]++
			}
		}
	}
	return nil
}
