package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A batch is what one Store call sends: items (an item is one key and
// what to do with it, see scripts.go and lua/batch.lua), run by the batch script in one
// round trip. On a single server all items go in one script call; on a
// cluster, one call per hash slot, which go-redis sends to the nodes in
// parallel as one pipeline.
//
// Requests are pooled and hold everything a call needs, so that a Score
// allocates little: keys are passed to go-redis as *string and the packed
// instructions as a BinaryMarshaler pointer, which box without allocating.
type request struct {
	items  []item
	keys   []string // one per item; stable for the call, pointed to by args
	ops    []byte   // every item's instruction, in item order
	groups []group
	args   []any
	blobs  []blob
	order  []int // item indexes in group order
}

type item struct {
	kind     byte
	op       int // index of the write-behind op it carries, or -1
	from, to int // its instruction in request.ops
	slot     int
	group    int
	whole    bool   // its result is a reply element of its own (an account's value)
	res      string // its result, once run
	aux      string // for a whole item, its part of the concatenated results
	err      error
}

type group struct {
	slot     int
	from, to int // in request.order
	cmd      *redis.StringSliceCmd
}

// blob is the packed instructions of one group.
type blob struct{ b []byte }

// MarshalBinary implements encoding.BinaryMarshaler for go-redis.
func (b *blob) MarshalBinary() ([]byte, error) { return b.b, nil }

var requests = sync.Pool{New: func() any { return &request{} }}

func getRequest() *request {
	r := requests.Get().(*request)
	r.items, r.keys, r.ops, r.groups, r.order = r.items[:0], r.keys[:0], r.ops[:0], r.groups[:0], r.order[:0]
	return r
}

func putRequest(r *request) {
	// Drop references to results and commands; keep capacity.
	for i := range r.items {
		r.items[i] = item{}
	}
	for i := range r.groups {
		r.groups[i] = group{}
	}
	clear(r.args)
	r.args = r.args[:0]
	for i := range r.blobs {
		r.blobs[i].b = nil
	}
	if cap(r.ops) > 1<<16 {
		r.ops = nil
	}
	requests.Put(r)
}

// add starts an item on key; the caller appends its instruction to r.ops
// and then calls end.
func (r *request) add(kind byte, key string) {
	r.items = append(r.items, item{kind: kind, op: -1, from: len(r.ops)})
	r.keys = append(r.keys, key)
	r.ops = append(r.ops, kind)
}

func (r *request) end() int {
	i := len(r.items) - 1
	r.items[i].to = len(r.ops)
	return i
}

func (r *request) u32(v uint32) { r.ops = binary.BigEndian.AppendUint32(r.ops, v) }
func (r *request) u16(v uint16) { r.ops = binary.BigEndian.AppendUint16(r.ops, v) }
func (r *request) u8(v byte)    { r.ops = append(r.ops, v) }
func (r *request) bytes(b []byte) {
	r.ops = append(r.ops, b...)
}
func (r *request) str(s string) { r.ops = append(r.ops, s...) }

// sstr appends a short string behind its length byte.
func (r *request) sstr(s string) {
	r.ops = append(r.ops, byte(len(s)))
	r.ops = append(r.ops, s...)
}

// num appends a number as a short decimal string: the script passes it to
// Redis as it is, rather than formatting a Lua number.
func (r *request) num(v int64) {
	i := len(r.ops)
	r.ops = append(r.ops, 0)
	r.ops = strconv.AppendInt(r.ops, v, 10)
	r.ops[i] = byte(len(r.ops) - i - 1)
}

// unixU32 clamps a time in unix seconds to what the state values hold.
func unixU32(t int64) uint32 { return uint32(min(max(t, 1), 1<<32-1)) }

// run sends the request's items (after the write-behind batch b's, which
// the caller has added) and fills in their results. It returns the first
// error among the items that are not buffered writes; those are counted
// instead.
//
// One script call goes as a plain command, several (on a cluster) as a
// pipeline: go-redis keeps pipelines on a pool of connections of their
// own, ten by default, which many concurrent callers would queue on.
func (s *Store) run(ctx context.Context, r *request, b *batch) error {
	defer s.wb.finish(b)
	if len(r.items) == 0 {
		return nil
	}
	s.group(r)
	var execErr error
	if len(r.groups) == 1 {
		s.queue(ctx, r, 0)
		execErr = s.rdb.Process(ctx, r.groups[0].cmd)
	} else {
		p := s.rdb.Pipeline()
		for i := range r.groups {
			s.queue(ctx, r, i)
			_ = p.Process(ctx, r.groups[i].cmd)
		}
		_, execErr = p.Exec(ctx)
	}
	// A server that does not have the library (restarted, or a new
	// cluster node) gets it, and the calls are sent again: two more round
	// trips, once.
	var retry []int
	for i := range r.groups {
		if isNoFunction(r.groups[i].cmd.Err()) {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		// The server lost its functions, and so, likely, all its data,
		// the key id with it.
		s.keeper.poke()
		if err := s.lib.load(ctx, s.rdb); err != nil {
			s.logBackground("redisstore: reloading the function library failed", err)
		}
		p := s.rdb.Pipeline()
		for _, i := range retry {
			s.queue(ctx, r, i)
			_ = p.Process(ctx, r.groups[i].cmd)
		}
		_, _ = p.Exec(ctx)
	}
	for gi := range r.groups {
		g := &r.groups[gi]
		val, err := g.cmd.Result()
		if err == nil {
			err = split(r, g, val)
		}
		if err != nil {
			for _, ii := range r.order[g.from:g.to] {
				r.items[ii].err = err
			}
		}
	}
	if b != nil {
		s.countOps(r, b, execErr)
	}
	own := false
	for i := range r.items {
		if it := &r.items[i]; it.op < 0 {
			if it.err != nil {
				return it.err
			}
			own = true
		}
	}
	if !own && execErr != nil && !isRedisReply(execErr) {
		return execErr
	}
	return nil
}

// group sorts the items into script calls: one on a single server, one
// per hash slot on a cluster.
func (s *Store) group(r *request) {
	r.order = r.order[:0]
	if !s.cluster {
		for i := range r.items {
			r.items[i].group = 0
			r.order = append(r.order, i)
		}
		r.groups = append(r.groups[:0], group{from: 0, to: len(r.items)})
		return
	}
	r.groups = r.groups[:0]
	for i := range r.items {
		sl := int(slot(r.keys[i]))
		r.items[i].slot = sl
		g := -1
		for j := range r.groups {
			if r.groups[j].slot == sl {
				g = j
				break
			}
		}
		if g < 0 {
			g = len(r.groups)
			r.groups = append(r.groups, group{slot: sl})
		}
		r.items[i].group = g
	}
	// Items keep their relative order within a group: a queued write runs
	// before a read of the same user.
	for g := range r.groups {
		r.groups[g].from = len(r.order)
		for i := range r.items {
			if r.items[i].group == g {
				r.order = append(r.order, i)
			}
		}
		r.groups[g].to = len(r.order)
	}
}

// queue makes g's command: FCALL of the batch function with the group's
// keys and instructions.
func (s *Store) queue(ctx context.Context, r *request, gi int) {
	g := &r.groups[gi]
	for len(r.blobs) <= gi {
		r.blobs = append(r.blobs, blob{})
	}
	bl := &r.blobs[gi]
	if s.cluster || len(r.groups) > 1 {
		bl.b = bl.b[:0]
		for _, ii := range r.order[g.from:g.to] {
			it := &r.items[ii]
			bl.b = append(bl.b, r.ops[it.from:it.to]...)
		}
	} else {
		bl.b = r.ops
	}
	start := len(r.args)
	r.args = append(r.args, "fcall", &s.lib.fn)
	r.args = append(r.args, g.to-g.from)
	for _, ii := range r.order[g.from:g.to] {
		r.args = append(r.args, &r.keys[ii])
	}
	r.args = append(r.args, bl)
	g.cmd = redis.NewStringSliceCmd(ctx, r.args[start:len(r.args):len(r.args)]...)
	// The first key decides where a cluster client sends the call.
	g.cmd.SetFirstKeyPos(3)
}

// split cuts a group's reply into its items' results: the first element
// holds them concatenated, each behind its length, and the accounts'
// values follow, one element each.
func split(r *request, g *group, vals []string) error {
	if len(vals) == 0 {
		return errors.New("batch script: empty reply")
	}
	val, whole := vals[0], vals[1:]
	for _, ii := range r.order[g.from:g.to] {
		if len(val) < 4 {
			return errors.New("batch script: short reply")
		}
		n := int(be32(val))
		if n > len(val)-4 {
			return fmt.Errorf("batch script: item of %d bytes in %d", n, len(val)-4)
		}
		r.items[ii].res = val[4 : 4+n]
		val = val[4+n:]
		if r.items[ii].whole {
			if len(whole) == 0 {
				return errors.New("batch script: missing account value")
			}
			r.items[ii].aux = r.items[ii].res
			r.items[ii].res, whole = whole[0], whole[1:]
		}
	}
	if val != "" || len(whole) != 0 {
		return errors.New("batch script: trailing results")
	}
	return nil
}

func be32[T ~string | ~[]byte](s T) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// slot is the Redis Cluster hash slot of key: CRC-16/XMODEM of its hash
// tag (the part between the first '{' and the next '}' when not empty),
// modulo 16384.
func slot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) % 16384
}

func crc16(b string) uint16 {
	var crc uint16
	for i := 0; i < len(b); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^b[i]]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return
}()
