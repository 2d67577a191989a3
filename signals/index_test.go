package signals

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestIndexIsAMap: an index answers as a map would, searched in order and
// past fewKeys, and a copy leaves the original as it was.
func TestIndexIsAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 5))
	for range 20 {
		var x *index[int]
		want := map[string]int{}
		for range 40 {
			k := fmt.Sprint("k", r.IntN(30))
			v := r.Int()
			before, snapshot := x, map[string]int{}
			for k, v := range want {
				snapshot[k] = v
			}
			x, want[k] = x.with(k, v), v
			for i := range 32 {
				k := fmt.Sprint("k", i)
				wv, wok := want[k]
				if got, ok := x.get(k); got != wv || ok != wok {
					t.Fatalf("get(%q) = %d %v, want %d %v", k, got, ok, wv, wok)
				}
				if got, _ := before.get(k); got != snapshot[k] {
					t.Fatalf("with changed its original at %q", k)
				}
			}
			if x.len() != len(want) || (x.m != nil) != (len(want) > fewKeys) {
				t.Fatalf("%d keys (map %v), want %d", x.len(), x.m != nil, len(want))
			}
		}
	}
}

func TestIndexGetDoesNotAllocate(t *testing.T) {
	var x *index[uint16]
	for i := range 12 {
		x = x.with(fmt.Sprint("browser", i), uint16(i))
		k := fmt.Sprint("browser", i/2)
		if n := testing.AllocsPerRun(100, func() { x.get(k) }); n != 0 {
			t.Fatalf("get with %d keys allocates %v times", x.len(), n)
		}
	}
}
