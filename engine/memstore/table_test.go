package memstore

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestTableMatchesModel drives a table and a plain model (a map and a
// recency-ordered slice) with the same random stream of finds, touches,
// inserts and removals, and compares membership, values, order and
// evictions after every step. Hashes are drawn from a small range so that
// probe runs are long, collide and wrap around the slot array.
func TestTableMatchesModel(t *testing.T) {
	for _, bound := range []int{1, 3, 17, 300, 2000} {
		for _, hashes := range []uint32{1, 7, 1<<32 - 1} {
			r := rand.New(rand.NewPCG(uint64(bound), uint64(hashes)))
			hashOf := func(k uint64) uint32 { return uint32(k*0x9E3779B97F4A7C15>>32) % (hashes + 1) }
			if hashes == 1<<32-1 {
				hashOf = func(k uint64) uint32 { return uint32(k * 0x9E3779B97F4A7C15 >> 32) }
			}
			var evicted []uint64
			tb := newTable[uint64, uint64](bound, func(e *entry[uint64, uint64]) { evicted = append(evicted, e.key) })
			model := map[uint64]uint64{}
			var order []uint64 // oldest first
			moveNewest := func(k uint64) {
				order = slices.DeleteFunc(order, func(x uint64) bool { return x == k })
				order = append(order, k)
			}
			for step := range 20000 {
				k := uint64(r.IntN(3 * bound))
				h := hashOf(k)
				i := tb.find(&k, h)
				v, in := model[k]
				if (i >= 0) != in || in && tb.at(i).val != v {
					t.Fatalf("bound %d step %d: key %d found at %d, model has it: %v", bound, step, k, i, in)
				}
				switch op := r.IntN(4); {
				case op == 0 && in: // remove
					tb.remove(i)
					delete(model, k)
					order = slices.DeleteFunc(order, func(x uint64) bool { return x == k })
				case op == 1 && in: // touch
					tb.touch(i)
					tb.at(i).val = uint64(step)
					model[k] = uint64(step)
					moveNewest(k)
				case !in:
					evicted = evicted[:0]
					i = tb.insert(&k, h)
					tb.at(i).val = uint64(step)
					var want []uint64
					if len(model) == bound {
						want = []uint64{order[0]}
						delete(model, order[0])
						order = order[1:]
					}
					if !slices.Equal(evicted, want) {
						t.Fatalf("bound %d step %d: evicted %v, want %v", bound, step, evicted, want)
					}
					model[k] = uint64(step)
					order = append(order, k)
				}
				if tb.Len() != len(model) {
					t.Fatalf("bound %d step %d: %d entries, model %d", bound, step, tb.Len(), len(model))
				}
				if step%97 == 0 {
					var got []uint64
					for i := tb.oldest; i >= 0; i = tb.link(i).prev {
						got = append(got, tb.at(i).key)
					}
					if !slices.Equal(got, order) {
						t.Fatalf("bound %d step %d: order %v, model %v", bound, step, got, order)
					}
					for _, k := range order {
						if tb.find(&k, hashOf(k)) < 0 {
							t.Fatalf("bound %d step %d: %d lost", bound, step, k)
						}
					}
				}
			}
		}
	}
}

// TestLinksApartFromEntries holds the recency links out of the entries:
// a touch rewrites the links of two entries touched at random, and in the
// entries those were two cache misses more per touch (callgrind's cache
// simulation of benchmarks.TestScoreInstructions). An entry is its key,
// its value and its hash, and a profile's is one cache line.
func TestLinksApartFromEntries(t *testing.T) {
	if got, want := unsafe.Sizeof(entry[windowID, window]{}), unsafe.Sizeof(struct {
		k windowID
		v window
		h uint32
	}{}); got != want {
		t.Errorf("window entry is %d bytes, want %d: key, value and hash", got, want)
	}
	if got := unsafe.Sizeof(entry[userID, profileEntry]{}); got > 64 {
		t.Errorf("profile entry is %d bytes, more than a cache line", got)
	}
	tb := newTable[uint64, uint64](4, nil)
	for k := range uint64(4) {
		tb.insert(&k, uint32(k))
	}
	// Touching the middle of the list writes its neighbours' links and
	// nothing of their entries.
	before := []entry[uint64, uint64]{*tb.at(0), *tb.at(2)}
	tb.touch(1)
	if *tb.at(0) != before[0] || *tb.at(2) != before[1] {
		t.Errorf("touch changed a neighbour's entry")
	}
	if l := tb.link(1); l.prev != -1 || l.next != 3 || tb.link(0).prev != 2 || tb.link(2).next != 0 {
		t.Errorf("links after touch: %+v, %+v, %+v", *tb.link(0), *l, *tb.link(2))
	}
}

// TestChunksFitTheirBlocks holds the tables' chunks to what they cost:
// a full chunk of profiles is exactly chunkBytes (whole pages, no
// allocator header or size class above it), and the last chunk, which
// grows by a quarter, keeps at most a quarter of itself empty where
// append's doubling kept up to half.
func TestChunksFitTheirBlocks(t *testing.T) {
	profiles := newTable[userID, profileEntry](1<<20, nil)
	if got := uintptr(1<<chunkBits[userID, profileEntry]()) * unsafe.Sizeof(entry[userID, profileEntry]{}); got != chunkBytes {
		t.Errorf("a full chunk of profiles is %d bytes, want %d", got, chunkBytes)
	}
	if got := uintptr(1<<chunkBits[windowID, window]()) * unsafe.Sizeof(entry[windowID, window]{}); got > chunkBytes || 2*got <= chunkBytes {
		t.Errorf("a full chunk of windows is %d bytes, want at most %d and more than half", got, chunkBytes)
	}
	for n := range 3 << chunkBits[userID, profileEntry]() {
		k := userID{tenant: tenantHash(n)}
		profiles.insert(&k, uint32(n))
		for c, ch := range profiles.chunks {
			full := c < len(profiles.chunks)-1
			if full && (len(ch) != 1<<chunkBits[userID, profileEntry]() || cap(ch) != len(ch)) || cap(ch) > len(ch)+len(ch)/4+1 {
				t.Fatalf("after %d inserts, chunk %d holds %d of %d", n+1, c, len(ch), cap(ch))
			}
			if l := profiles.links[c]; len(l) != len(ch) || cap(l) != cap(ch) {
				t.Fatalf("after %d inserts, links of chunk %d: %d of %d, entries %d of %d", n+1, c, len(l), cap(l), len(ch), cap(ch))
			}
		}
	}
}
