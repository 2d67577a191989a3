package breached

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"time"
)

// The file format (version 1), all integers little-endian:
//
//	offset  size  field
//	0       8     magic "RGBF\r\n\x1a\n" (the CR/LF/^Z bytes catch text-mode mangling)
//	8       2     format version (1)
//	10      1     filter kind (1 bloom, 2 fuse8, 3 fuse16, 4 fuse32)
//	11      1     hash scheme (1 bloom/v3 murmur3 over the 20 SHA-1 bytes; 2 fuse over SHA-1 bytes 0..7 as a little-endian uint64)
//	12      4     header length in bytes, including the trailing header CRC
//	16      4     flags (bit 0: built with prevalence tiers)
//	20      4     level count (1 without tiers, else the number of tiers)
//	24      4     shards per level (fuse; 1 for bloom)
//	28      4     source description length
//	32      8     entries inserted into level 1
//	40      8     minimum prevalence count of level 1 (0 when unknown)
//	48      8     target false-positive rate (float64 bits)
//	56      8     build time, Unix nanoseconds
//	64      8     total file size in bytes
//	72      8     reserved (0)
//	80      n     source description (UTF-8)
//	then    56×L  level table: threshold, entries, bloom m, bloom k, body offset, body length (u64 each), body CRC-32C (u32), pad
//	then    40×L×S fuse shard table: seed (u64), segment length, mask, count, count×length, fingerprint count, CRC-32C (u32 each), body offset (u64)
//	then    4     CRC-32C (Castagnoli) of every header byte before it
//
// Bodies follow the header, each at an offset that is a multiple of 64 so that
// the mmapped words are aligned for zero-copy []uint64 / []uint16 / []uint32
// views. A Bloom body is exactly the word array of a bits-and-blooms BitSet;
// a fuse body is exactly the Fingerprints slice of an xorfilter.BinaryFuse.
//
// Why two checksums: the header CRC is checked by every reader (it is a few
// hundred bytes), so a foreign or damaged header is refused at once, and
// `riskgate breached info` reads it without touching the body. Body CRCs
// cover gigabytes: Open (serving, and every reload) checks them all while it
// copies the file into its private snapshot, which reads the file anyway, so
// a damaged replacement is refused before it is swapped in;
// `riskgate breached verify` checks them in place.

const (
	magic         = "RGBF\r\n\x1a\n"
	formatVersion = 1
	fixedHeader   = 80
	levelEntry    = 56
	shardEntry    = 40
	bodyAlign     = 64

	maxLevels = 16
	maxShards = 1 << 16
	maxSource = 4096

	flagTiered = 1
)

// Hash schemes: how a SHA-1 digest becomes filter positions. See Info.HashScheme.
const (
	schemeBloomMurmur = 1
	schemeFuseLE64    = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Kind is the filter structure stored in a file.
type Kind uint8

// Filter kinds. Bloom filters can be added to and sized for any false-positive
// rate; binary fuse filters are static, smaller for the same rate and need
// three memory reads per lookup instead of k.
const (
	KindBloom  Kind = 1
	KindFuse8  Kind = 2
	KindFuse16 Kind = 3
	KindFuse32 Kind = 4
)

func (k Kind) String() string {
	switch k {
	case KindBloom:
		return "bloom"
	case KindFuse8:
		return "fuse8"
	case KindFuse16:
		return "fuse16"
	case KindFuse32:
		return "fuse32"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads "bloom", "fuse8", "fuse16" or "fuse32".
func ParseKind(s string) (Kind, error) {
	for k := KindBloom; k <= KindFuse32; k++ {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("breached: unknown filter kind %q (want bloom, fuse8, fuse16 or fuse32)", s)
}

// fingerprintBytes is the width of one fuse fingerprint, 0 for Bloom.
func (k Kind) fingerprintBytes() int {
	switch k {
	case KindFuse8:
		return 1
	case KindFuse16:
		return 2
	case KindFuse32:
		return 4
	}
	return 0
}

// fuseFPR is the false-positive rate of a binary fuse filter: 2^-bits.
func (k Kind) fuseFPR() float64 { return math.Ldexp(1, -8*k.fingerprintBytes()) }

// header is the decoded, validated file header.
type header struct {
	kind      Kind
	scheme    uint8
	headerLen uint32
	flags     uint32
	shards    uint32
	entries   uint64
	minCount  uint64
	targetFPR float64
	built     int64
	size      uint64
	source    string
	levels    []levelHeader
}

type levelHeader struct {
	threshold uint64
	entries   uint64
	m, k      uint64 // bloom only
	offset    uint64
	length    uint64
	crc       uint32
	shards    []shardHeader // fuse only
}

type shardHeader struct {
	seed         uint64
	segLen       uint32
	segMask      uint32
	segCount     uint32
	segCountLen  uint32
	fingerprints uint32
	crc          uint32
	offset       uint64
}

func headerLength(levels, shards, source int) int {
	n := fixedHeader + source + levels*levelEntry + 4
	if shards > 0 {
		n += levels * shards * shardEntry
	}
	return n
}

// alignUp rounds n up to the body alignment.
func alignUp(n uint64) uint64 { return (n + bodyAlign - 1) &^ (bodyAlign - 1) }

// marshal encodes h; offsets, lengths and CRCs must already be filled in.
func (h *header) marshal() []byte {
	fuse := h.kind != KindBloom
	shards := 0
	if fuse {
		shards = int(h.shards)
	}
	b := make([]byte, headerLength(len(h.levels), shards, len(h.source)))
	le := binary.LittleEndian
	copy(b, magic)
	le.PutUint16(b[8:], formatVersion)
	b[10] = byte(h.kind)
	b[11] = h.scheme
	le.PutUint32(b[12:], uint32(len(b)))
	le.PutUint32(b[16:], h.flags)
	le.PutUint32(b[20:], uint32(len(h.levels)))
	le.PutUint32(b[24:], h.shards)
	le.PutUint32(b[28:], uint32(len(h.source)))
	le.PutUint64(b[32:], h.entries)
	le.PutUint64(b[40:], h.minCount)
	le.PutUint64(b[48:], math.Float64bits(h.targetFPR))
	le.PutUint64(b[56:], uint64(h.built))
	le.PutUint64(b[64:], h.size)
	p := fixedHeader + copy(b[fixedHeader:], h.source)
	for _, l := range h.levels {
		le.PutUint64(b[p:], l.threshold)
		le.PutUint64(b[p+8:], l.entries)
		le.PutUint64(b[p+16:], l.m)
		le.PutUint64(b[p+24:], l.k)
		le.PutUint64(b[p+32:], l.offset)
		le.PutUint64(b[p+40:], l.length)
		le.PutUint32(b[p+48:], l.crc)
		p += levelEntry
	}
	if fuse {
		for _, l := range h.levels {
			for _, s := range l.shards {
				le.PutUint64(b[p:], s.seed)
				le.PutUint32(b[p+8:], s.segLen)
				le.PutUint32(b[p+12:], s.segMask)
				le.PutUint32(b[p+16:], s.segCount)
				le.PutUint32(b[p+20:], s.segCountLen)
				le.PutUint32(b[p+24:], s.fingerprints)
				le.PutUint32(b[p+28:], s.crc)
				le.PutUint64(b[p+32:], s.offset)
				p += shardEntry
			}
		}
	}
	le.PutUint32(b[p:], crc32.Checksum(b[:p], castagnoli))
	return b
}

// errFormat marks every "this is not a valid filter file" error so callers can
// tell a bad file from an I/O error with errors.Is(err, ErrFormat).
var ErrFormat = errors.New("invalid filter file")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// parseHeader decodes and validates the header of a whole file b. Everything
// Lookup relies on (bounds of every body, Bloom m and k, fuse segment
// geometry) is checked here, so that Lookup can never index out of range on a
// damaged or hostile file.
func parseHeader(b []byte) (*header, error) {
	le := binary.LittleEndian
	if len(b) == 0 {
		return nil, formatErr("empty file")
	}
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return nil, formatErr("not a riskgate breached-password filter (bad magic)")
	}
	if len(b) < fixedHeader+4 {
		return nil, formatErr("truncated: %d bytes is shorter than the fixed header", len(b))
	}
	if v := le.Uint16(b[8:]); v != formatVersion {
		return nil, formatErr("unsupported format version %d (this build reads version %d)", v, formatVersion)
	}
	h := &header{
		kind:      Kind(b[10]),
		scheme:    b[11],
		headerLen: le.Uint32(b[12:]),
		flags:     le.Uint32(b[16:]),
		shards:    le.Uint32(b[24:]),
		entries:   le.Uint64(b[32:]),
		minCount:  le.Uint64(b[40:]),
		targetFPR: math.Float64frombits(le.Uint64(b[48:])),
		built:     int64(le.Uint64(b[56:])),
		size:      le.Uint64(b[64:]),
	}
	nLevels, srcLen := le.Uint32(b[20:]), le.Uint32(b[28:])
	if nLevels == 0 || nLevels > maxLevels || srcLen > maxSource || h.shards == 0 || h.shards > maxShards {
		return nil, formatErr("implausible header counts (levels %d, shards %d, source %d bytes)", nLevels, h.shards, srcLen)
	}
	switch {
	case h.kind == KindBloom && h.scheme == schemeBloomMurmur && h.shards == 1:
	case h.kind >= KindFuse8 && h.kind <= KindFuse32 && h.scheme == schemeFuseLE64 && h.shards&(h.shards-1) == 0:
	default:
		return nil, formatErr("unknown filter kind %d / hash scheme %d / %d shards", h.kind, h.scheme, h.shards)
	}
	shards := 0
	if h.kind != KindBloom {
		shards = int(h.shards)
	}
	want := headerLength(int(nLevels), shards, int(srcLen))
	if int(h.headerLen) != want {
		return nil, formatErr("header length %d does not match its counts (want %d)", h.headerLen, want)
	}
	if len(b) < want {
		return nil, formatErr("truncated: %d bytes, the header alone needs %d", len(b), want)
	}
	if got, sum := crc32.Checksum(b[:want-4], castagnoli), le.Uint32(b[want-4:]); got != sum {
		return nil, formatErr("header checksum mismatch (stored %08x, computed %08x)", sum, got)
	}
	// From here on the header bytes are what the writer wrote; what follows
	// catches truncation and writer bugs rather than random damage.
	if h.size != uint64(len(b)) {
		if h.size > uint64(len(b)) {
			return nil, formatErr("truncated: header says %d bytes, file has %d", h.size, len(b))
		}
		return nil, formatErr("%d bytes of trailing data after the %d the header declares", uint64(len(b))-h.size, h.size)
	}
	if !(h.targetFPR > 0 && h.targetFPR < 1) {
		return nil, formatErr("target false-positive rate %g out of range", h.targetFPR)
	}
	h.source = string(b[fixedHeader : fixedHeader+srcLen])
	p := fixedHeader + int(srcLen)
	h.levels = make([]levelHeader, nLevels)
	for i := range h.levels {
		l := &h.levels[i]
		l.threshold, l.entries = le.Uint64(b[p:]), le.Uint64(b[p+8:])
		l.m, l.k = le.Uint64(b[p+16:]), le.Uint64(b[p+24:])
		l.offset, l.length, l.crc = le.Uint64(b[p+32:]), le.Uint64(b[p+40:]), le.Uint32(b[p+48:])
		p += levelEntry
		if i > 0 && l.threshold < h.levels[i-1].threshold {
			return nil, formatErr("tier %d threshold %d below tier %d's %d", i+1, l.threshold, i, h.levels[i-1].threshold)
		}
		if h.kind == KindBloom {
			if l.m == 0 || l.m > 1<<40 || l.k == 0 || l.k > 64 {
				return nil, formatErr("tier %d: implausible bloom parameters m=%d k=%d", i+1, l.m, l.k)
			}
			if l.length != (l.m+63)/64*8 {
				return nil, formatErr("tier %d: body is %d bytes, m=%d needs %d", i+1, l.length, l.m, (l.m+63)/64*8)
			}
			if err := checkSection(h, l.offset, l.length); err != nil {
				return nil, fmt.Errorf("tier %d: %w", i+1, err)
			}
		}
	}
	if h.kind != KindBloom {
		w := uint64(h.kind.fingerprintBytes())
		for i := range h.levels {
			l := &h.levels[i]
			l.shards = make([]shardHeader, h.shards)
			for j := range l.shards {
				s := &l.shards[j]
				s.seed = le.Uint64(b[p:])
				s.segLen, s.segMask = le.Uint32(b[p+8:]), le.Uint32(b[p+12:])
				s.segCount, s.segCountLen = le.Uint32(b[p+16:]), le.Uint32(b[p+20:])
				s.fingerprints, s.crc, s.offset = le.Uint32(b[p+24:]), le.Uint32(b[p+28:]), le.Uint64(b[p+32:])
				p += shardEntry
				// Contains reads indexes below segCountLen + 2×segLen
				// (see xorfilter getHashFromHash): insist on exactly the
				// geometry xorfilter produces.
				if s.segLen == 0 || bits.OnesCount32(s.segLen) != 1 || s.segMask != s.segLen-1 || s.segCount == 0 ||
					uint64(s.segCount)*uint64(s.segLen) != uint64(s.segCountLen) ||
					uint64(s.fingerprints) < uint64(s.segCountLen)+2*uint64(s.segLen) {
					return nil, formatErr("tier %d shard %d: inconsistent fuse geometry", i+1, j)
				}
				if err := checkSection(h, s.offset, uint64(s.fingerprints)*w); err != nil {
					return nil, fmt.Errorf("tier %d shard %d: %w", i+1, j, err)
				}
			}
		}
	}
	return h, nil
}

func checkSection(h *header, off, length uint64) error {
	if off%bodyAlign != 0 || off < uint64(h.headerLen) || off > h.size || length > h.size-off {
		return formatErr("body section [%d, +%d) outside the %d-byte file or misaligned", off, length, h.size)
	}
	return nil
}

// builtTime converts the stored nanoseconds.
func (h *header) builtTime() time.Time { return time.Unix(0, h.built).UTC() }

// KindFor maps a kind name to a Kind: "bloom", "fuse8", "fuse16", "fuse32",
// or "fuse", the narrowest fuse filter whose rate (2^-8, 2^-16, 2^-32)
// meets the target false-positive rate fpr.
func KindFor(name string, fpr float64) (Kind, error) {
	if name != "fuse" {
		return ParseKind(name)
	}
	if !(fpr > 0 && fpr < 1) {
		return 0, fmt.Errorf("breached: false-positive rate %g outside (0, 1)", fpr)
	}
	for _, k := range []Kind{KindFuse8, KindFuse16, KindFuse32} {
		if k.fuseFPR() <= fpr {
			return k, nil
		}
	}
	return 0, fmt.Errorf("breached: no fuse filter meets a false-positive rate of %g (fuse32 gives %.3g); use --kind bloom", fpr, KindFuse32.fuseFPR())
}
