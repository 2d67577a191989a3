package memstore

// The profile codec as it was before the codec was tuned (one pass over
// the hours, no copies of the set headers, an index instead of reslicing
// in the decoder), kept as the model the tuned one must match byte for
// byte: the stored format does not change.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"

	"github.com/riskgate/riskgate/engine"
)

func modelAppendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func modelB2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func modelAppendF64(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// modelTimeWidth is 4 when every time of p fits 32 unsigned bits, else 8. A
// time fits when, as a uint64, it has no bit set above the 32 low ones
// (a negative one has them all), so the times are or-ed together and
// tested once.
func modelTimeWidth(p *engine.Profile) int {
	m := uint64(p.FirstSeen) | uint64(p.LastSeen) | uint64(p.Last.Time) | uint64(p.Last.FixTime)
	for _, set := range profileSets(p) {
		for i := range set {
			m |= uint64(set[i].Last)
		}
	}
	if m>>32 == 0 {
		return 4
	}
	return 8
}

func modelAppendTime(b []byte, w int, t int64) []byte {
	if w == 4 {
		return binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	return binary.LittleEndian.AppendUint64(b, uint64(t))
}

// modelEncodeProfile appends p's encoding to b.
func modelEncodeProfile(b []byte, p *engine.Profile) []byte {
	w := modelTimeWidth(p)
	b = append(b, byte(w))
	b = binary.AppendUvarint(b, uint64(p.Logins))
	b = modelAppendTime(b, w, p.FirstSeen)
	b = modelAppendTime(b, w, p.LastSeen)
	l := &p.Last
	b = modelAppendTime(b, w, l.Time)
	// Without its zone, which a remote login's address has no use for and
	// which could outgrow the length byte.
	at := len(b)
	b, _ = l.IP.WithZone("").AppendBinary(append(b, 0)) // cannot fail
	b[at] = byte(len(b) - at - 1)
	b = modelAppendStr(b, l.Country)
	b = modelAppendStr(b, l.City)
	if l.HasLocation {
		carried := l.FixCarried()
		b = append(b, 1+modelB2u8(carried))
		b = modelAppendF64(modelAppendF64(modelAppendF64(b, l.Lat), l.Lon), l.AccuracyKM)
		if carried {
			b = modelAppendTime(b, w, l.FixTime)
		}
	} else {
		b = append(b, 0)
	}
	var mask uint32
	for h, n := range p.Hours {
		if n != 0 {
			mask |= 1 << h
		}
	}
	b = append(b, byte(mask), byte(mask>>8), byte(mask>>16))
	for _, n := range p.Hours {
		if n != 0 {
			b = binary.AppendUvarint(b, uint64(n))
		}
	}
	b = binary.AppendUvarint(b, uint64(p.NewDevices))
	b = binary.AppendUvarint(b, uint64(p.NoDevice))
	for _, set := range profileSets(p) {
		b = binary.AppendUvarint(b, uint64(len(set)))
		for i := range set {
			b = modelAppendStr(b, set[i].Value)
			b = binary.AppendUvarint(b, uint64(set[i].Count))
			b = modelAppendTime(b, w, set[i].Last)
		}
	}
	return b
}

var errModelCorrupt = errors.New("memstore: corrupt profile")

// modelDecoder reads a blob; after the first error every read returns zero.
type modelDecoder struct {
	b   []byte
	err error
	w   int // bytes per time
}

func (d *modelDecoder) fail() {
	if d.err == nil {
		d.err = errModelCorrupt
	}
	d.b = nil
}

func (d *modelDecoder) uvarint() uint64 {
	if len(d.b) > 0 && d.b[0] < 0x80 { // one byte: nearly every count and length
		v := uint64(d.b[0])
		d.b = d.b[1:]
		return v
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *modelDecoder) time() int64 {
	if d.w == 4 && len(d.b) >= 4 {
		v := binary.LittleEndian.Uint32(d.b)
		d.b = d.b[4:]
		return int64(v)
	}
	if d.w == 8 && len(d.b) >= 8 {
		v := binary.LittleEndian.Uint64(d.b)
		d.b = d.b[8:]
		return int64(v)
	}
	d.fail()
	return 0
}

func (d *modelDecoder) bytes(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// str returns a string pointing into the blob, which is never modified.
func (d *modelDecoder) str() string {
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) {
		if n != 0 {
			d.fail()
		}
		return ""
	}
	v := unsafe.String(&d.b[0], int(n))
	d.b = d.b[n:]
	return v
}

func (d *modelDecoder) f64() float64 {
	v := d.bytes(8)
	if v == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(v))
}

// seen reads a set's member: str, count uvarint, time. Nearly every
// member has a length and a count of one byte each, read here in one go;
// others take the general reads.
func (d *modelDecoder) seen() engine.Seen {
	b := d.b
	if len(b) > 0 && b[0] < 0x80 {
		n := int(b[0])
		if w := d.w; n+2+w <= len(b) && b[n+1] < 0x80 {
			var v string
			if n > 0 {
				v = unsafe.String(&b[1], n)
			}
			c, rest := uint32(b[n+1]), b[n+2:]
			var t int64
			if w == 4 {
				t = int64(binary.LittleEndian.Uint32(rest))
			} else {
				t = int64(binary.LittleEndian.Uint64(rest))
			}
			d.b = rest[w:]
			return engine.Seen{Value: v, Count: c, Last: t}
		}
	}
	return engine.Seen{Value: d.str(), Count: d.u32(), Last: d.time()}
}

func (d *modelDecoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail()
	}
	return uint32(v)
}

// modelDecodeProfile fills p from blob, reusing p's slices. p's strings point
// into blob.
func modelDecodeProfile(blob []byte, p *engine.Profile) error {
	sets := [...]*[]engine.Seen{&p.Devices, &p.Agents, &p.Countries, &p.Cities, &p.ASNs, &p.Networks, &p.ASNNetworks, &p.AgentVersions}
	var old [len(sets)][]engine.Seen
	for i, s := range sets {
		old[i] = (*s)[:0]
	}
	*p = engine.Profile{}
	d := modelDecoder{b: blob}
	if w := d.bytes(1); len(w) == 1 && (w[0] == 4 || w[0] == 8) {
		d.w = int(w[0])
	} else {
		d.fail()
	}
	p.Logins = d.u32()
	p.FirstSeen = d.time()
	p.LastSeen = d.time()
	l := &p.Last
	l.Time = d.time()
	if n := d.bytes(1); n != nil {
		if err := l.IP.UnmarshalBinary(d.bytes(int(n[0]))); err != nil {
			d.fail()
		}
	}
	l.Country = d.str()
	l.City = d.str()
	if hl := d.bytes(1); len(hl) == 1 && hl[0] != 0 {
		if hl[0] > 2 {
			d.fail()
		}
		l.HasLocation = true
		l.Lat, l.Lon, l.AccuracyKM = d.f64(), d.f64(), d.f64()
		if hl[0] == 2 {
			l.FixTime = d.time()
		}
	}
	if m := d.bytes(3); m != nil {
		mask := uint32(m[0]) | uint32(m[1])<<8 | uint32(m[2])<<16
		for mask != 0 {
			h := bits.TrailingZeros32(mask)
			mask &^= 1 << h
			p.Hours[h] = d.u32()
		}
	}
	p.NewDevices = d.u32()
	p.NoDevice = d.u32()
	for i, s := range sets {
		n := d.uvarint()
		if n > uint64(len(d.b)) { // each member takes at least a byte
			d.fail()
			n = 0
		}
		set := old[i]
		for range n {
			set = append(set, d.seen())
		}
		*s = set
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}

// TestCodecMatchesModel: the tuned encoder writes the model's bytes, and
// the tuned decoder reads what the model reads, for random profiles (both
// time widths) and for those blobs cut short or with a byte changed.
func TestCodecMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var got, want engine.Profile // reused, as a Score's state is
	for i := range 3000 {
		p := randomProfile(r, r.IntN(80))
		if i%5 == 0 { // times that need 64 bits
			p.LastSeen = -1 - r.Int64N(1<<40)
		}
		if i%3 == 0 { // counts of one to five bytes, as browser versions and busy users have
			for _, set := range profileSets(&p) {
				for j := range set {
					set[j].Count = r.Uint32N(1 << (7 * (1 + r.IntN(5)) % 32))
				}
			}
			p.Hours[r.IntN(24)] = r.Uint32()
		}
		blob := encodeProfile(nil, &p)
		if m := modelEncodeProfile(nil, &p); !bytes.Equal(blob, m) {
			t.Fatalf("profile %d encodes to\n%x\nthe model to\n%x", i, blob, m)
		}
		// Appending keeps what precedes.
		if b := encodeProfile([]byte("xy"), &p); string(b[:2]) != "xy" || !bytes.Equal(b[2:], blob) {
			t.Fatalf("profile %d: appending to a prefix gives %x", i, b)
		}
		variants := [][]byte{blob, blob[:r.IntN(len(blob))], append(blob[:len(blob):len(blob)], 0)}
		for range 4 {
			c := bytes.Clone(blob)
			c[r.IntN(len(c))] ^= byte(1 + r.IntN(255))
			variants = append(variants, c)
		}
		for _, v := range variants {
			errGot, errWant := decodeProfile(v, &got), modelDecodeProfile(v, &want)
			if (errGot == nil) != (errWant == nil) {
				t.Fatalf("profile %d, blob %x: decode error %v, the model's %v", i, v, errGot, errWant)
			}
			if errGot == nil && !sameProfile(got, want) {
				t.Fatalf("profile %d, blob %x: decoded\n%+v\nthe model\n%+v", i, v, got, want)
			}
		}
	}
}

// sameProfile is reflect.DeepEqual with the last login's coordinates
// compared bit for bit: a blob may hold a NaN, which equals nothing.
func sameProfile(a, b engine.Profile) bool {
	for _, f := range [...][2]*float64{{&a.Last.Lat, &b.Last.Lat}, {&a.Last.Lon, &b.Last.Lon}, {&a.Last.AccuracyKM, &b.Last.AccuracyKM}} {
		if math.Float64bits(*f[0]) != math.Float64bits(*f[1]) {
			return false
		}
		*f[0], *f[1] = 0, 0
	}
	return reflect.DeepEqual(a, b)
}

// FuzzCodecMatchesModel holds the decoder to the model on any blob, and
// the encoder on whatever decodes.
func FuzzCodecMatchesModel(f *testing.F) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 8 {
		p := randomProfile(r, 20)
		f.Add(encodeProfile(nil, &p))
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		var got, want engine.Profile
		errGot, errWant := decodeProfile(blob, &got), modelDecodeProfile(blob, &want)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("decode error %v, the model's %v", errGot, errWant)
		}
		if errGot != nil {
			return
		}
		if !sameProfile(got, want) {
			t.Fatalf("decoded\n%+v\nthe model\n%+v", got, want)
		}
		if a, b := encodeProfile(nil, &got), modelEncodeProfile(nil, &got); !bytes.Equal(a, b) {
			t.Fatalf("encodes to %x, the model to %x", a, b)
		}
	})
}

// junk sets every field of v, recursively, to something not zero.
func junk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[netip.Addr]() {
			v.Set(reflect.ValueOf(netip.MustParseAddr("fe80::1%junk")))
			return
		}
		for i := range v.NumField() {
			junk(v.Field(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			junk(v.Index(i))
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 4)
		junk(s.Index(0))
		junk(s.Index(1))
		v.Set(s)
	case reflect.String:
		v.SetString("junk")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(-7)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float64:
		v.SetFloat(7.5)
	default:
		panic("junk: add " + v.Kind().String())
	}
}

// TestDecodeOverwritesEveryField: the decoder assigns fields one by one
// rather than zeroing the whole profile first, so a field it forgot (one
// added to engine.Profile later) would keep the previous user's value.
func TestDecodeOverwritesEveryField(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for range 200 {
		p := randomProfile(r, r.IntN(30))
		blob := encodeProfile(nil, &p)
		var dirty, clean engine.Profile
		junk(reflect.ValueOf(&dirty).Elem())
		if err := decodeProfile(blob, &dirty); err != nil {
			t.Fatal(err)
		}
		if err := modelDecodeProfile(blob, &clean); err != nil {
			t.Fatal(err)
		}
		if !same(&dirty, &clean) {
			t.Fatalf("decoding into a used profile gives\n%+v\ninto a new one\n%+v", dirty, clean)
		}
	}
}

// TestResetEmptiesEveryField: resetProfile empties field by field, so a
// field it forgot (one added to engine.Profile later) would carry a
// profile into the next learned into the same memory; and the strings
// the sets held, past their length, must be gone so that an old blob is
// not kept alive.
func TestResetEmptiesEveryField(t *testing.T) {
	var p engine.Profile
	junk(reflect.ValueOf(&p).Elem())
	sets := profileSets(&p)
	resetProfile(&p)
	if !same(&p, &engine.Profile{}) {
		t.Fatalf("reset leaves %+v", p)
	}
	for i, set := range profileSets(&p) {
		if cap(set) != cap(sets[i]) {
			t.Errorf("set %d: capacity %d, was %d", i, cap(set), cap(sets[i]))
		}
		for _, s := range set[:cap(set)] {
			if s.Value != "" {
				t.Errorf("set %d still holds %q", i, s.Value)
			}
		}
	}
}
