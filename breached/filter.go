package breached

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/FastFilter/xorfilter"
	"github.com/bits-and-blooms/bloom/v3"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// Match is the answer for one password hash. It never contains the hash.
type Match struct {
	Found    bool
	Tier     int    // 0 when no tiers; else 1..n, higher = more prevalent
	MinCount uint64 // the tier's lower bound on prevalence (0 when unknown)
}

// Filter is a loaded, read-only breached-password filter. Lookup is safe for
// concurrent use; Close must not run concurrently with Lookup.
type Filter struct {
	name    string      // file name for errors, "" for Load
	where   string      // where the snapshot lives, for logs
	file    os.FileInfo // the file as opened (nil for the bundled list): see Live's skip of a version loaded
	data    []byte      // the whole file: a mapped private snapshot, or the caller's bytes
	release func() error
	hdr     *header
	tiered  bool
	shift   uint // key >> shift selects the fuse shard
	levels  []level
}

// level is one prevalence tier (the whole filter when there are no tiers).
// Tiers are nested: level i holds every hash seen at least threshold_i times,
// so a miss in level 0 is a miss everywhere and costs a single probe.
type level struct {
	threshold uint64
	empty     bool
	bloom     *bloom.BloomFilter
	f8        []xorfilter.BinaryFuse[uint8]
	f16       []xorfilter.BinaryFuse[uint16]
	f32       []xorfilter.BinaryFuse[uint32]
}

// Lookup reports whether the SHA-1 digest of a password is in the filter and,
// for tiered filters, the highest tier that holds it. It does not allocate and
// never logs, stores or returns the digest.
func (f *Filter) Lookup(sha1 [20]byte) Match {
	key := binary.LittleEndian.Uint64(sha1[:8])
	var m Match
	for i := range f.levels {
		l := &f.levels[i]
		var hit bool
		switch {
		case l.empty:
		case l.bloom != nil:
			hit = l.bloom.Test(sha1[:])
		case l.f8 != nil:
			hit = l.f8[key>>f.shift].Contains(key)
		case l.f16 != nil:
			hit = l.f16[key>>f.shift].Contains(key)
		case l.f32 != nil:
			hit = l.f32[key>>f.shift].Contains(key)
		}
		if !hit {
			break
		}
		m.Found, m.MinCount = true, l.threshold
		if f.tiered {
			m.Tier = i + 1
		}
	}
	return m
}

// Load reads a filter from b without copying it (unless b is not 8-byte
// aligned, as embedded data may not be). b must not be modified while the
// filter is in use. Like Open, Load verifies every checksum: it is meant for
// small filters already in memory, such as the embedded default.
func Load(b []byte) (*Filter, error) {
	if len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		words := make([]uint64, (len(b)+7)/8)
		aligned := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(b))
		copy(aligned, b)
		b = aligned
	}
	f, err := newFilter("", b, nil)
	if err != nil {
		return nil, fmt.Errorf("breached: load: %w", err)
	}
	if err := f.Verify(); err != nil {
		return nil, err
	}
	return f, nil
}

// OpenOptions configure Open.
type OpenOptions struct {
	// SnapshotDir holds the private copy of the file (see
	// internal/filesnap); empty: beside the file, else $TMPDIR, else RAM.
	SnapshotDir string
}

// Open opens a filter file for serving. The file is copied into a private,
// unlinked snapshot that is then memory-mapped, so that a file rewritten or
// truncated in place (rather than replaced by a rename) can neither change
// nor fault the filter in use; and every checksum, header and body, is
// verified before Open returns, so a damaged file is refused rather than
// answering wrongly. Both cost a sequential read of the file: about a second
// per gigabyte.
func Open(path string, opt OpenOptions) (*Filter, error) {
	snap, err := filesnap.Open(path, filesnap.Options{Dir: opt.SnapshotDir})
	if err != nil {
		if _, ok := errors.AsType[*fs.PathError](err); ok {
			return nil, fmt.Errorf("breached: %w", err) // it names the path: "open /x: no such file"
		}
		return nil, fmt.Errorf("breached: open %s: %w", path, err)
	}
	f, err := newFilter(path, snap.Bytes(), snap.Close)
	if err != nil {
		_ = snap.Close()
		return nil, fmt.Errorf("breached: open %s: %w", path, err)
	}
	f.where, f.file = snap.Where(), snap.Stat()
	if err := f.Verify(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// ReadInfo reads a filter file's header in place, without the private copy
// Open makes, and with verify also checks every body checksum (a full read).
// It is for tools that look at a file once (`riskgate breached info` and
// `verify`): a file truncated while it is read gives an error, not a crash.
func ReadInfo(path string, verify bool) (Info, error) {
	b, unmap, err := mapFile(path)
	if err != nil {
		if _, ok := errors.AsType[*fs.PathError](err); ok {
			return Info{}, fmt.Errorf("breached: %w", err) // it names the path, as Open's
		}
		return Info{}, fmt.Errorf("breached: open %s: %w", path, err)
	}
	if unmap != nil {
		defer unmap(b)
	}
	in, err := readInfo(path, b, verify)
	var fault *filesnap.Fault
	if errors.As(err, &fault) {
		err = fmt.Errorf("breached: read %s: %w", path, err)
	}
	return in, err
}

func readInfo(path string, b []byte, verify bool) (_ Info, err error) {
	defer filesnap.Recover(&err, debug.SetPanicOnFault(true))
	f, err := newFilter(path, b, nil)
	if err != nil {
		return Info{}, fmt.Errorf("breached: open %s: %w", path, err)
	}
	if verify {
		if err := f.Verify(); err != nil {
			return Info{}, err
		}
	}
	return f.Info(), nil
}

func newFilter(name string, b []byte, release func() error) (*Filter, error) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, errors.New("filter files are little-endian and this host is not")
	}
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	f := &Filter{name: name, data: b, release: release, hdr: h, tiered: h.flags&flagTiered != 0}
	f.shift = 64 - uint(log2(h.shards))
	for _, lh := range h.levels {
		l := level{threshold: lh.threshold, empty: lh.entries == 0}
		switch h.kind {
		case KindBloom:
			words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b[lh.offset:]))), lh.length/8)
			l.bloom = bloom.FromWithM(words, uint(lh.m), uint(lh.k))
		case KindFuse8:
			l.f8 = fuseShards[uint8](b, lh.shards)
		case KindFuse16:
			l.f16 = fuseShards[uint16](b, lh.shards)
		case KindFuse32:
			l.f32 = fuseShards[uint32](b, lh.shards)
		}
		f.levels = append(f.levels, l)
	}
	return f, nil
}

// fuseShards builds xorfilter values whose Fingerprints alias the file bytes.
func fuseShards[T uint8 | uint16 | uint32](b []byte, shards []shardHeader) []xorfilter.BinaryFuse[T] {
	out := make([]xorfilter.BinaryFuse[T], len(shards))
	for i, s := range shards {
		out[i] = xorfilter.BinaryFuse[T]{
			Seed:               s.seed,
			SegmentLength:      s.segLen,
			SegmentLengthMask:  s.segMask,
			SegmentCount:       s.segCount,
			SegmentCountLength: s.segCountLen,
			Fingerprints:       unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b[s.offset:]))), s.fingerprints),
		}
	}
	return out
}

func log2(n uint32) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

// Verify checks the CRC-32C of every body section: a full read of the file.
func (f *Filter) Verify() error {
	name := f.name
	if name == "" {
		name = "filter"
	}
	w := uint64(f.hdr.kind.fingerprintBytes())
	for i, l := range f.hdr.levels {
		if f.hdr.kind == KindBloom {
			if got := crc32.Checksum(f.data[l.offset:l.offset+l.length], castagnoli); got != l.crc {
				return fmt.Errorf("breached: verify %s: %w", name, formatErr("tier %d body checksum mismatch (stored %08x, computed %08x)", i+1, l.crc, got))
			}
			continue
		}
		for j, s := range l.shards {
			end := s.offset + uint64(s.fingerprints)*w
			if got := crc32.Checksum(f.data[s.offset:end], castagnoli); got != s.crc {
				return fmt.Errorf("breached: verify %s: %w", name, formatErr("tier %d shard %d body checksum mismatch (stored %08x, computed %08x)", i+1, j, s.crc, got))
			}
		}
	}
	return nil
}

// Close releases the snapshot. The filter must not be used afterwards.
func (f *Filter) Close() error {
	if f == nil || f.data == nil {
		return nil
	}
	release := f.release
	f.data, f.levels, f.release = nil, nil, nil
	if release != nil {
		if err := release(); err != nil {
			return fmt.Errorf("breached: close %s: %w", f.name, err)
		}
	}
	return nil
}

// Info describes a filter file: its header plus derived numbers.
//
// Entries, of a Bloom filter, are distinct hashes, approximately (see
// bloomSink; filters built before 2026-12-07 counted a repeated line each
// time); of a fuse filter, the hashes inserted, a hash given twice counted
// twice: its builder drops the repeat but does not say how many it
// dropped, and sorting the keys to count them costs more than the build.
type Info struct {
	Kind         Kind
	HashScheme   string
	Version      int
	M, K         uint64 // Bloom parameters of tier 1 (0 for fuse kinds)
	Shards       int    // fuse shards per tier (1 for Bloom)
	Entries      uint64 // entries in tier 1 (all of them)
	MinCount     uint64 // prevalence lower bound of tier 1, 0 when unknown
	TargetFPR    float64
	ExpectedFPR  float64 // of tier 1, from its actual size and entries
	BitsPerEntry float64 // tier 1 body bits / entries
	Source       string
	Built        time.Time
	Tiered       bool
	Tiers        []TierInfo
	Size         int64 // whole file, bytes
}

// TierInfo describes one prevalence tier (or the whole filter without tiers).
type TierInfo struct {
	Tier        int
	MinCount    uint64
	Entries     uint64
	Bytes       uint64
	M, K        uint64
	ExpectedFPR float64
}

// Info returns the header fields and derived sizes.
func (f *Filter) Info() Info {
	h := f.hdr
	in := Info{
		Kind: h.kind, Version: formatVersion, Shards: int(h.shards),
		Entries: h.entries, MinCount: h.minCount, TargetFPR: h.targetFPR,
		Source: h.source, Built: h.builtTime(), Tiered: f.tiered, Size: int64(h.size),
	}
	switch h.scheme {
	case schemeBloomMurmur:
		in.HashScheme = "bloom/v3 murmur3-128 over the 20 SHA-1 bytes"
	case schemeFuseLE64:
		in.HashScheme = "binary fuse over SHA-1 bytes 0-7 (little-endian uint64), top bits pick the shard"
	}
	w := uint64(h.kind.fingerprintBytes())
	for i, l := range h.levels {
		t := TierInfo{Tier: i + 1, MinCount: l.threshold, Entries: l.entries, M: l.m, K: l.k, Bytes: l.length}
		if h.kind == KindBloom {
			t.ExpectedFPR = bloomFPR(l.m, l.k, l.entries)
		} else {
			t.Bytes = 0
			for _, s := range l.shards {
				t.Bytes += uint64(s.fingerprints) * w
			}
			if l.entries > 0 {
				t.ExpectedFPR = h.kind.fuseFPR()
			}
		}
		in.Tiers = append(in.Tiers, t)
	}
	t0 := in.Tiers[0]
	in.M, in.K, in.ExpectedFPR = t0.M, t0.K, t0.ExpectedFPR
	if t0.Entries > 0 {
		in.BitsPerEntry = float64(t0.Bytes*8) / float64(t0.Entries)
	}
	return in
}

// bloomFPR is the classic estimate (1 - e^(-kn/m))^k.
func bloomFPR(m, k, n uint64) float64 {
	if m == 0 {
		return 1
	}
	return math.Pow(-math.Expm1(-float64(k)*float64(n)/float64(m)), float64(k))
}
