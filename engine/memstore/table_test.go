package memstore

import (
	"math/rand/v2"
	"slices"
	"testing"
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
					for i := tb.oldest; i >= 0; i = tb.at(i).prev {
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
