package breached

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/FastFilter/xorfilter"
	"github.com/bits-and-blooms/bloom/v3"
)

// A sink receives accepted hashes from the scan workers and writes the file.
type sink interface {
	visit(w int, sum [20]byte, count uint64)
	write(ctx context.Context, out string, hdr *header, workers int) error
}

// bloomSink inserts into one classic Bloom filter per tier, with exactly the
// bit layout and hashing of bits-and-blooms/bloom/v3 (a BitSet of m bits, k
// locations as bloom.Locations computes them, modulo m; see hash.go), so that the file body is a
// bloom/v3 BitSet and lookups run bloom/v3's own Test over the mmapped words.
// bloom/v3's Add is not safe for concurrent use, so the workers set the same
// bits with atomic OR instead; TestBloomMatchesBitsAndBlooms checks that the
// result is identical to sequential Adds.
//
// entries counts, per level, the hashes that set at least one bit: a hash
// whose k bits were all set already (a line repeated, within a file or
// across inputs, or one hash of several passwords) is in the filter, and
// counting it again made a list of a thousand passwords given three times
// read 3,000 entries, in `breached info`, riskgate_breached_entries and
// the expected false-positive rate. The count is of distinct hashes, and
// approximate: a new hash whose bits others set (at most the filter's
// false-positive rate of them, one in a million at the default) is not
// counted.
type bloomSink struct {
	thresholds []uint64
	levels     []bloomLevel
	entries    [][]uint64   // [worker][level], then the worker's repeats in tier 1; padded
	stripes    []sync.Mutex // by hash: the inserts of one hash, one at a time (see visit)
}

type bloomLevel struct {
	m, k  uint64
	words []uint64
}

func newBloomSink(thresholds, counts []uint64, fpr float64, workers int) *bloomSink {
	b := &bloomSink{thresholds: thresholds, entries: make([][]uint64, workers), stripes: make([]sync.Mutex, 4096)}
	for _, n := range counts {
		m, k := bloom.EstimateParameters(uint(max(n, 1)), fpr)
		b.levels = append(b.levels, bloomLevel{m: uint64(m), k: uint64(k), words: make([]uint64, (m+63)/64)})
	}
	for w := range b.entries {
		b.entries[w] = make([]uint64, len(thresholds)+8)
	}
	return b
}

func (b *bloomSink) visit(w int, sum [20]byte, count uint64) {
	// One murmur hash serves every tier: tiers differ in m, not in hashing.
	h := bloomHashes(&sum)
	for i := range b.levels {
		if count < b.thresholds[i] {
			break
		}
		l := &b.levels[i]
		// Two passes for memory-level parallelism: the plain loads of the
		// first are independent, so their cache misses overlap; a locked
		// OR is a full barrier on x86, so ORing as we go would serialise
		// all k misses. Bits already set (about half, once the filter
		// fills) need no OR at all. Bits are never cleared, so a bit seen
		// set stays set; a bit seen clear is ORed, whoever else sets it.
		var unset [64]uint64 // k <= 40 for rates >= 1e-12
		n := 0
		for j := range l.k {
			p := bloomLocation(&h, j) % l.m
			unset[n] = p
			n += int(^atomic.LoadUint64(&l.words[p>>6]) >> (p & 63) & 1)
		}
		// A hash is new here if one of its bits is set by this insert.
		// Two workers inserting the same hash at once (two copies of a
		// list, read side by side, keep in step) could each set some of
		// its bits and both count it: a copy given twice read 6% over
		// with two workers, nearly double with four. Those two take the
		// hash's stripe lock, so the second sets nothing. A hash whose
		// bits are all set already is not new: no lock.
		flipped := false
		if n > 0 {
			mu := &b.stripes[h[0]%uint64(len(b.stripes))]
			mu.Lock()
			for _, p := range unset[:n] {
				bit := uint64(1) << (p & 63)
				flipped = atomic.OrUint64(&l.words[p>>6], bit)&bit == 0 || flipped
			}
			mu.Unlock()
		}
		if flipped {
			b.entries[w][i]++
		} else if i == 0 {
			b.entries[w][len(b.levels)]++
		}
	}
}

// repeated is the number of hashes that were in tier 1 already when
// inserted (see bloomSink).
func (b *bloomSink) repeated() uint64 {
	var n uint64
	for w := range b.entries {
		n += b.entries[w][len(b.levels)]
	}
	return n
}

func (b *bloomSink) write(ctx context.Context, out string, hdr *header, _ int) error {
	hdr.scheme, hdr.shards = schemeBloomMurmur, 1
	fw, err := createOut(out, headerLength(len(b.levels), 0, len(hdr.source)))
	if err != nil {
		return err
	}
	defer fw.abort()
	for i, l := range b.levels {
		if err := ctx.Err(); err != nil {
			return err
		}
		var n uint64
		for w := range b.entries {
			n += b.entries[w][i]
		}
		body := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(l.words))), len(l.words)*8)
		off, crc, err := fw.append(body)
		if err != nil {
			return err
		}
		hdr.levels = append(hdr.levels, levelHeader{threshold: levelThreshold(hdr, b.thresholds, i), entries: n, m: l.m, k: l.k,
			offset: off, length: uint64(len(body)), crc: crc})
	}
	hdr.entries = hdr.levels[0].entries
	return fw.finish(hdr)
}

// fuseSink collects 64-bit keys (the first 8 bytes of each SHA-1) per tier and
// shard, then builds one binary fuse filter per shard. Sharding by the top key
// bits bounds the builder's memory (about 30 bytes per key of the shard being
// built) and lets shards build in parallel.
type fuseSink struct {
	kind       Kind
	thresholds []uint64
	shards     int
	shift      uint
	keys       [][][]uint64 // [worker][level*shards+shard]
}

// fuseShardTarget is the number of keys a shard is sized for. Above about a
// million keys xorfilter reaches its minimum overhead (1.125 slots per key),
// so 4M-key shards cost no space, bound the builder's memory (~150 MB per
// shard in flight) and give every core a shard to build.
const fuseShardTarget = 1 << 22

func newFuseSink(kind Kind, thresholds []uint64, expected uint64, workers int) *fuseSink {
	shards := 1
	for uint64(shards)*fuseShardTarget < expected && shards < maxShards {
		shards *= 2
	}
	f := &fuseSink{kind: kind, thresholds: thresholds, shards: shards, shift: 64 - uint(bits.Len(uint(shards))-1)}
	// Presize tier 1 for the expected count (+5% for the spread between
	// shards and workers): growing by append would copy every key about
	// twice and keep the garbage collector busy preempting the builders.
	per := expected / uint64(shards*workers) * 105 / 100
	f.keys = make([][][]uint64, workers)
	for w := range f.keys {
		f.keys[w] = make([][]uint64, len(thresholds)*shards)
		for s := range shards {
			f.keys[w][s] = make([]uint64, 0, per)
		}
	}
	return f
}

func (f *fuseSink) visit(w int, sum [20]byte, count uint64) {
	key := binary.LittleEndian.Uint64(sum[:8])
	s := int(key >> f.shift)
	for i, t := range f.thresholds {
		if count < t {
			break
		}
		j := i*f.shards + s
		f.keys[w][j] = append(f.keys[w][j], key)
	}
}

func (f *fuseSink) write(ctx context.Context, out string, hdr *header, workers int) error {
	hdr.scheme, hdr.shards = schemeFuseLE64, uint32(f.shards)
	fw, err := createOut(out, headerLength(len(f.thresholds), f.shards, len(hdr.source)))
	if err != nil {
		return err
	}
	defer fw.abort()
	hdr.levels = make([]levelHeader, len(f.thresholds))
	for i := range hdr.levels {
		hdr.levels[i] = levelHeader{threshold: levelThreshold(hdr, f.thresholds, i), shards: make([]shardHeader, f.shards)}
	}
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fb xorfilter.BinaryFuseBuilder // reused across shards
			for j := range jobs {
				sh, n, err := f.buildShard(&fb, j, fw)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("tier %d shard %d: %w", j/f.shards+1, j%f.shards, err)
				}
				l := &hdr.levels[j/f.shards]
				l.shards[j%f.shards] = sh
				l.entries += n
				mu.Unlock()
			}
		}()
	}
	for j := range len(f.thresholds) * f.shards {
		if ctx.Err() != nil {
			break
		}
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	hdr.entries = hdr.levels[0].entries
	return fw.finish(hdr)
}

// buildShard gathers the workers' keys of job j, builds its filter and
// appends its fingerprints to the file.
func (f *fuseSink) buildShard(fb *xorfilter.BinaryFuseBuilder, j int, fw *fileWriter) (shardHeader, uint64, error) {
	n := 0
	for w := range f.keys {
		n += len(f.keys[w][j])
	}
	keys := make([]uint64, 0, n)
	for w := range f.keys {
		keys = append(keys, f.keys[w][j]...)
		f.keys[w][j] = nil // free as we go
	}
	switch f.kind {
	case KindFuse8:
		return buildFuse[uint8](fb, keys, fw)
	case KindFuse16:
		return buildFuse[uint16](fb, keys, fw)
	default:
		return buildFuse[uint32](fb, keys, fw)
	}
}

func buildFuse[T uint8 | uint16 | uint32](fb *xorfilter.BinaryFuseBuilder, keys []uint64, fw *fileWriter) (shardHeader, uint64, error) {
	n := uint64(len(keys))
	bf, err := xorfilter.BuildBinaryFuse[T](fb, keys)
	if err != nil {
		return shardHeader{}, 0, err
	}
	var zero T
	body := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(bf.Fingerprints))), len(bf.Fingerprints)*int(unsafe.Sizeof(zero)))
	off, crc, err := fw.append(body)
	if err != nil {
		return shardHeader{}, 0, err
	}
	return shardHeader{seed: bf.Seed, segLen: bf.SegmentLength, segMask: bf.SegmentLengthMask, segCount: bf.SegmentCount,
		segCountLen: bf.SegmentCountLength, fingerprints: uint32(len(bf.Fingerprints)), crc: crc, offset: off}, n, nil
}

// levelThreshold is the prevalence bound a lookup reports for level i: the
// tier threshold, or without tiers the header's min count, which Build sets
// to 0 (unknown) when plain lists were read.
func levelThreshold(hdr *header, thresholds []uint64, i int) uint64 {
	if hdr.flags&flagTiered == 0 {
		return hdr.minCount
	}
	return thresholds[i]
}

// fileWriter writes a filter to a temporary file next to its destination:
// bodies first (possibly from several goroutines, at reserved offsets), the
// header last, then fsync and rename, so a reader never sees half a file.
type fileWriter struct {
	f        *os.File
	out      string
	hdrLen   int
	mu       sync.Mutex
	end      uint64
	finished bool
}

func createOut(out string, headerLen int) (*fileWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &fileWriter{f: f, out: out, hdrLen: headerLen, end: alignUp(uint64(headerLen))}, nil
}

// append reserves an aligned section, writes b there and returns its offset
// and CRC-32C.
func (w *fileWriter) append(b []byte) (uint64, uint32, error) {
	w.mu.Lock()
	off := w.end
	w.end = alignUp(off + uint64(len(b)))
	w.mu.Unlock()
	crc := crc32.Checksum(b, castagnoli)
	if _, err := w.f.WriteAt(b, int64(off)); err != nil {
		return 0, 0, err
	}
	return off, crc, nil
}

func (w *fileWriter) finish(hdr *header) error {
	hdr.size = w.end
	hb := hdr.marshal()
	if len(hb) != w.hdrLen {
		return fmt.Errorf("internal error: header is %d bytes, %d were reserved", len(hb), w.hdrLen)
	}
	if _, err := w.f.WriteAt(hb, 0); err != nil {
		return err
	}
	if err := w.f.Truncate(int64(w.end)); err != nil {
		return err
	}
	// CreateTemp makes the file private; a filter is public data that
	// other users' processes may map.
	if err := w.f.Chmod(0o644); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), w.out); err != nil {
		return err
	}
	w.finished = true
	return nil
}

// abort removes the temporary file unless finish succeeded.
func (w *fileWriter) abort() {
	if !w.finished {
		_ = w.f.Close()
		_ = os.Remove(w.f.Name())
	}
}
