package heldqueue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

func TestSlotSize(t *testing.T) {
	if got := unsafe.Sizeof(slot{}); got != slotSize {
		t.Errorf("slot is %d bytes, slotSize says %d", got, slotSize)
	}
}

// model is what a Queue must behave as: records in put order, the
// oldest going first.
type model struct {
	max  int
	keys []Key // oldest first
	recs map[Key]modelRec
}

type modelRec struct {
	expires int64
	data    []byte
}

func newModel(max int) *model { return &model{max: max, recs: map[Key]modelRec{}} }

func (m *model) remove(k Key) {
	delete(m.recs, k)
	m.keys = slices.DeleteFunc(m.keys, func(x Key) bool { return x == k })
}

func (m *model) put(k Key, expires int64, data []byte) int {
	m.remove(k)
	evicted := 0
	if len(m.keys) >= m.max {
		m.remove(m.keys[0])
		evicted = 1
	}
	m.keys = append(m.keys, k)
	m.recs[k] = modelRec{expires, bytes.Clone(data)}
	return evicted
}

func (m *model) expire(now int64) int {
	n := 0
	for len(m.keys) > 0 && m.recs[m.keys[0]].expires <= now {
		m.remove(m.keys[0])
		n++
	}
	return n
}

func key(i int) Key {
	var k Key
	binary.LittleEndian.PutUint64(k[:], uint64(i))
	return k
}

// run drives q and a model with ops, each three bytes: an operation, a
// key and a size, and fails at the first difference.
func run(t *testing.T, max int, ops []byte) {
	t.Helper()
	q, m := New(max), newModel(max)
	now := int64(0)
	for i := 0; i+3 <= len(ops); i += 3 {
		op, k := ops[i]%8, key(int(ops[i+1]%32))
		switch op {
		case 0, 1, 2, 3: // put; sizes up to a little over a page
			size := int(ops[i+2]) * 7
			if ops[i+2] == 255 {
				size = pageSize + 100
			}
			data := bytes.Repeat([]byte{ops[i+1]}, size)
			now++
			exp := now + int64(ops[i+2]%16)*0 + 20 // in put order, as callers use it
			if got, want := q.Put(k, exp, data), m.put(k, exp, data); got != want {
				t.Fatalf("op %d: Put evicted %d, want %d", i/3, got, want)
			}
		case 4, 5: // take or, one time in two, get
			get := ops[i+2]%2 == 0
			take := q.Take
			if get {
				take = q.Get
			}
			got, exp, ok := take([]byte("x"), k)
			want, wok := m.recs[k]
			if ok != wok || ok && (exp != want.expires || !bytes.Equal(got, append([]byte("x"), want.data...))) {
				t.Fatalf("op %d: Take = %v, %d, %d bytes; want %v, %d, %d bytes", i/3, ok, exp, len(got), wok, want.expires, len(want.data)+1)
			}
			if !ok && string(got) != "x" {
				t.Fatalf("op %d: Take of nothing changed dst", i/3)
			}
			if !get {
				m.remove(k)
			}
		case 6: // remove
			_, wok := m.recs[k]
			if ok := q.Remove(k); ok != wok {
				t.Fatalf("op %d: Remove = %v, want %v", i/3, ok, wok)
			}
			m.remove(k)
		case 7: // time passes
			now += int64(ops[i+2] % 8)
			var wantGone, gone [][]byte
			for _, k := range m.keys {
				if m.recs[k].expires > now {
					break
				}
				wantGone = append(wantGone, m.recs[k].data)
			}
			if got, want := q.ExpireFunc(now, func(data []byte) { gone = append(gone, bytes.Clone(data)) }), m.expire(now); got != want {
				t.Fatalf("op %d: Expire removed %d, want %d", i/3, got, want)
			}
			if !slices.EqualFunc(gone, wantGone, bytes.Equal) {
				t.Fatalf("op %d: ExpireFunc told of %d records, not the %d that went", i/3, len(gone), len(wantGone))
			}
		}
		check(t, q, m, i/3)
	}
}

func check(t *testing.T, q *Queue, m *model, op int) {
	t.Helper()
	if q.Len() != len(m.keys) {
		t.Fatalf("op %d: Len = %d, want %d", op, q.Len(), len(m.keys))
	}
	// Oldest is the record a Put into a full queue removes; Has is the
	// index.
	if data, ok := q.Oldest(); ok != (len(m.keys) > 0) || ok && !bytes.Equal(data, m.recs[m.keys[0]].data) {
		t.Fatalf("op %d: Oldest = %v, %d bytes; want the model's oldest of %d", op, ok, len(data), len(m.keys))
	}
	for i := range 32 {
		if _, want := m.recs[key(i)]; q.Has(key(i)) != want {
			t.Fatalf("op %d: Has(%d) = %v, want %v", op, i, !want, want)
		}
	}
	var keys []Key
	q.Range(func(k Key, exp int64, data []byte) bool {
		keys = append(keys, k)
		if r := m.recs[k]; exp != r.expires || !bytes.Equal(data, r.data) {
			t.Fatalf("op %d: Range gave %x %d/%d bytes, model has %d/%d", op, k[:1], exp, len(data), r.expires, len(r.data))
		}
		return true
	})
	if !slices.Equal(keys, m.keys) {
		t.Fatalf("op %d: Range order %d keys, model %d keys", op, len(keys), len(m.keys))
	}
	// Bounded: dead bytes never outweigh the live ones by more than the
	// rebuild's margin, nor dead slots the ring's growth.
	live := 0
	for _, r := range m.recs {
		live += len(r.data)
	}
	if q.liveBytes != live {
		t.Fatalf("op %d: liveBytes %d, want %d", op, q.liveBytes, live)
	}
	if limit := 2*live + 2*pageSize + 2*(pageSize+100); q.pageBytes > limit {
		t.Fatalf("op %d: %d bytes of pages hold %d live bytes", op, q.pageBytes, live)
	}
	if len(q.ring) > 4*q.max+64 {
		t.Fatalf("op %d: ring of %d slots for a bound of %d", op, len(q.ring), q.max)
	}
}

func TestQueueMatchesModel(t *testing.T) {
	for _, max := range []int{1, 3, 20, 1000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(max), 1))
			ops := make([]byte, 3*20000)
			for i := range ops {
				ops[i] = byte(r.UintN(256))
			}
			run(t, max, ops)
		})
	}
}

func FuzzQueue(f *testing.F) {
	f.Add(uint8(3), []byte{0, 1, 10, 0, 2, 10, 4, 1, 0, 7, 0, 7})
	f.Add(uint8(2), []byte{0, 1, 255, 0, 2, 255, 0, 3, 255, 6, 2, 0})
	f.Fuzz(func(t *testing.T, max uint8, ops []byte) {
		run(t, int(max%50)+1, ops)
	})
}

// Records taken out of order, the oldest never, as step-ups nobody
// completes among those that are: the queue must not keep the taken ones'
// bytes and slots behind the oldest.
func TestOutOfOrderStaysBounded(t *testing.T) {
	q := New(10000)
	data := make([]byte, 300)
	for i := range 1_000_000 {
		q.Put(key(i), int64(i)+1e9, data)
		if i%50 != 49 {
			q.Take(nil, key(i))
		}
	}
	if q.Len() != 10000 {
		t.Fatalf("Len = %d, want 10000", q.Len())
	}
	if perRecord := q.Bytes() / q.Len(); perRecord > 2*300+200 {
		t.Errorf("%d bytes a record of 300 held", perRecord)
	}
}

// The point of the package: a full queue is a handful of objects for the
// collector, not several a record.
func TestFewObjects(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	q := New(20000)
	data := make([]byte, 250)
	for i := range 20000 {
		q.Put(key(i), 1, data)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if objects := int64(after.HeapObjects) - int64(before.HeapObjects); objects > 1000 {
		t.Errorf("20,000 records are %d heap objects", objects)
	}
	runtime.KeepAlive(q)
}

func TestNewRefusesNoRoom(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(0) did not panic")
		}
	}()
	New(0)
}

func BenchmarkPutTake(b *testing.B) {
	q := New(8000)
	data := make([]byte, 250)
	var dst []byte
	for i := range b.N {
		q.Put(key(i), int64(i), data)
		if i%10 != 0 {
			dst, _, _ = q.Take(dst[:0], key(i))
		}
	}
}
