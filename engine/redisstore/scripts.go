package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// smallSet is how many distinct members a subject keeps exactly in its
// state before moving to HyperLogLogs.
const smallSet = 12

// Window specs, as in the memory store: bucket width in seconds, number of
// buckets, name. Short windows serve addresses, subnets, ASNs and the
// tenant (bursts); long ones accounts and passwords (slow attacks).
var (
	shortSpec = [3]spec{{60, 10, "10m"}, {300, 12, "1h"}, {3600, 24, "24h"}}
	longSpec  = [3]spec{{300, 12, "1h"}, {3600, 24, "24h"}, {21600, 28, "7d"}}
)

type spec struct {
	width, n int64
	name     string
}

func luaSpec(s *[3]spec) string {
	var b strings.Builder
	b.WriteString("{")
	for i, x := range s {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "{%d,%d,'%s'}", x.width, x.n, x.name)
	}
	b.WriteString("}")
	return b.String()
}

// luaLib is the common part of the window scripts. Each subject (an
// address, a subnet, an ASN, an account, a password, a tenant) has one
// small state value, <base>:win, a MessagePack array of numbers:
//
//   - for each counter series (failures; attempts for the tenant), one ring
//     per window: the newest bucket number, then one count per bucket. The
//     code is the memory store's ring: counts by the events' own times,
//     buckets older than the newest bucket's window are gone, and an event
//     older than that is not counted.
//   - for a distinct count, either a small exact set of members (up to
//     smallSet fingerprints with their last sighting), which is all most
//     addresses, subnets and passwords ever need and costs no other key;
//     or, once a set outgrows that, the state of its HyperLogLogs.
//
// The HyperLogLogs: one per bucket (<base>:u10m:<bucket>, what a window is
// made of) and one union per window (<base>:u10m:w, the window ending at
// the newest bucket). An attempt adds its member to its bucket and, when
// that changed the bucket, to the union; the count is PFCOUNT of the union
// alone, which Redis answers from the cardinality it caches in the key
// while nothing changed. The union is rebuilt once per bucket period, when
// the first attempt of a new bucket comes: copied from the one bucket with
// data in the window, or merged (PFMERGE) from the few that have some (the
// state keeps a bit mask of them). An attempt dated in an older bucket (a
// replay, a late report) reads its own window by PFCOUNT over its buckets.
// This costs a handful of commands per window instead of a PFCOUNT merging
// up to 28 keys on every attempt.
//
// Keys are derived from KEYS[1] inside the scripts rather than all passed
// in KEYS: they share its hash tag, so they are in its slot (Redis checks
// that for undeclared keys), and passing the bucket names would multiply
// the request size.
var luaLib = `
local SHORT = ` + luaSpec(&shortSpec) + `
local LONG = ` + luaSpec(&longSpec) + `

-- span is the length of one series' rings in the state array.
local function span(spec)
  local s = 0
  for r = 1, #spec do s = s + 1 + spec[r][2] end
  return s
end

-- load returns the state array: c counter numbers, then, when distinct,
-- the distinct-count part (see distinct). Absent or unreadable state is
-- all zeros and an empty set.
local function load(k, c, distinct)
  local v = redis.call('GET', k)
  if v then
    local ok, a = pcall(cmsgpack.unpack, v)
    if ok and type(a) == 'table' then
      if not distinct and #a == c then return a end
      local m = a[c + 1]
      if distinct and (m == -1 and #a == c + 10 or type(m) == 'number' and m >= 0 and #a == c + 1 + 2 * m) then
        return a
      end
    end
  end
  local a = {}
  for i = 1, c do a[i] = 0 end
  if distinct then a[c + 1] = 0 end
  return a
end

local function save(k, a, spec)
  redis.call('SET', k, cmsgpack.pack(a), 'EX', spec[3][1] * (spec[3][2] + 1))
end

-- counter adds inc (0 or 1) at time t to the series whose rings start at
-- a[o] and appends its sums at t to out. It returns whether it wrote.
local function counter(a, o, spec, t, inc, out)
  local wrote = false
  for r = 1, #spec do
    local w, n = spec[r][1], spec[r][2]
    local idx = math.floor(t / w)
    local h = a[o]
    if inc > 0 then
      local add = true
      if h == 0 or idx - h >= n then
        for j = 1, n do a[o + j] = 0 end
        a[o] = idx
      elseif idx > h then
        for j = h + 1, idx do a[o + 1 + (j % n)] = 0 end
        a[o] = idx
      elseif idx <= h - n then
        add = false
      end
      if add then
        local k = o + 1 + (idx % n)
        a[k] = a[k] + inc
        wrote = true
      end
      h = a[o]
    end
    local sum = 0
    if h ~= 0 then
      for j = math.max(idx, h) - n + 1, math.min(idx, h) do sum = sum + a[o + 1 + (j % n)] end
    end
    out[#out + 1] = sum
    o = o + 1 + n
  end
  return wrote
end

-- hll adds member (unless empty) at time t to the HyperLogLogs of series
-- nm under base, whose state is at a[d..d+8] (per window: the union's
-- bucket, the newest bucket with data, and a bit mask of the buckets with
-- data counting back from it), and when read appends each window's count
-- to out. It returns whether it changed anything.
--
-- Times to live: a bucket gets its window length plus a bucket when it is
-- created, which outlasts every window it is part of; a union copies the
-- newest bucket's, and is rebuilt before that runs out.
local function hll(a, d, base, nm, spec, t, member, read, out, bucketsOnly)
  local dirty = false
  for r = 1, #spec do
    local w, n = spec[r][1], spec[r][2]
    local pre = base .. ':' .. nm .. spec[r][3] .. ':'
    local wk = pre .. 'w'
    local idx = math.floor(t / w)
    local ci, ni, mi = d + 3 * (r - 1), d + 3 * (r - 1) + 1, d + 3 * (r - 1) + 2
    -- rebuild makes the union the window ending at bucket x from the
    -- buckets that hold data, newest first: usually one, copied.
    local function rebuild(x)
      local ks = {}
      for i = 0, n - 1 do
        local b = a[ni] - i
        if b <= x and b > x - n and bit.band(a[mi], bit.lshift(1, i)) ~= 0 then ks[#ks + 1] = pre .. b end
      end
      if #ks == 0 then
        redis.call('DEL', wk)
      else
        redis.call('COPY', ks[1], wk, 'REPLACE')
        if #ks > 1 then
          ks[1] = wk
          redis.call('PFMERGE', unpack(ks))
        end
      end
      a[ci] = x
      dirty = true
    end
    local changed = 0
    if member ~= '' then
      local bk = pre .. idx
      changed = redis.call('PFADD', bk, member)
      local nb, fresh = a[ni], false
      if idx > nb then
        a[mi] = idx - nb < n and bit.bor(bit.band(bit.lshift(a[mi], idx - nb), 2 ^ n - 1), 1) or 1
        a[ni] = idx
        fresh = true
      elseif idx > nb - n and bit.band(a[mi], bit.lshift(1, nb - idx)) == 0 then
        a[mi] = bit.bor(a[mi], bit.lshift(1, nb - idx))
        fresh = true
      end
      -- A bucket older than the mask tracks gets its time to live when it
      -- changes, in case this created it.
      if fresh or (changed == 1 and idx <= nb - n) then
        redis.call('EXPIRE', bk, w * (n + 1))
        dirty = true
      end
    end
    local cb = a[ci]
    if bucketsOnly then
      -- The caller builds the unions afterwards.
    elseif idx > cb then
      rebuild(idx)
    elseif changed == 1 and idx > cb - n then
      -- The bucket is in the union's window. A union found missing (evicted,
      -- or expired under a replay slower than real time) is rebuilt rather
      -- than started again with one member.
      if redis.call('EXISTS', wk) == 1 then
        redis.call('PFADD', wk, member)
      else
        rebuild(cb)
      end
    end
    if read and not bucketsOnly then
      if idx == a[ci] then
        local c = redis.call('PFCOUNT', wk)
        if c == 0 and a[ni] > idx - n then
          rebuild(idx) -- empty where there is data: lost
          c = redis.call('PFCOUNT', wk)
        end
        out[#out + 1] = c
      else
        -- A late attempt reads its own, older window.
        local ks = {}
        for b = idx - n + 1, idx do ks[#ks + 1] = pre .. b end
        out[#out + 1] = redis.call('PFCOUNT', unpack(ks))
      end
    end
  end
  return dirty
end

-- A subject's distinct members start as a small exact set in its state:
-- a[d] is the number of members k, followed by k pairs (fingerprint, last
-- seen). Most addresses, subnets and passwords only ever see a few
-- accounts, and for them this costs no key and no command beyond the
-- state's GET and SET. Past SMALL members within the longest window, the
-- set moves to the HyperLogLogs (a[d] = -1, then their state), and back
-- when their data has aged out of every window. In the small set a member
-- counts in a window by its last sighting, which differs from a bucket's
-- memory only for an attempt dated before that sighting.
local SMALL = ` + fmt.Sprint(smallSet) + `

local function distinct(a, d, base, nm, spec, t, member, read, out)
  local L = spec[#spec]
  if a[d] == -1 and member ~= '' then
    -- Back to the small set once nothing is left in the longest window.
    local nb = a[d + 8]
    if nb <= math.floor(t / L[1]) - L[2] then
      for i = #a, d + 1, -1 do a[i] = nil end
      a[d] = 0
    end
  end
  if a[d] >= 0 then
    local k = a[d]
    local dirty = false
    if member ~= '' then
      local fp = tonumber(member)
      local tmax, found = t, false
      for i = 1, k do
        local ti = a[d + 2 * i]
        if a[d + 2 * i - 1] == fp then
          found = true
          if t > ti then a[d + 2 * i] = t; dirty = true end
        end
        if ti > tmax then tmax = ti end
      end
      if not found then
        -- Drop the members no window of the newest time can count, add
        -- this one.
        local lo, j = math.floor(tmax / L[1]) - L[2], 0
        for i = 1, k do
          local f, ti = a[d + 2 * i - 1], a[d + 2 * i]
          if math.floor(ti / L[1]) > lo then
            j = j + 1
            a[d + 2 * j - 1], a[d + 2 * j] = f, ti
          end
        end
        j = j + 1
        a[d + 2 * j - 1], a[d + 2 * j] = fp, t
        for i = #a, d + 2 * j + 1, -1 do a[i] = nil end
        a[d] = j
        dirty = true
      end
    end
    if a[d] <= SMALL then
      if read then
        for r = 1, #spec do
          local w, n = spec[r][1], spec[r][2]
          local idx, c = math.floor(t / w), 0
          for i = 1, a[d] do
            local b = math.floor(a[d + 2 * i] / w)
            if b > idx - n and b <= idx then c = c + 1 end
          end
          out[#out + 1] = c
        end
      end
      return dirty
    end
    -- Too many: every member goes to its buckets, and the HyperLogLogs
    -- take over.
    local ms = {}
    for i = 1, a[d] do ms[i] = {a[d + 2 * i - 1], a[d + 2 * i]} end
    for i = #a, d + 1, -1 do a[i] = nil end
    a[d] = -1
    for i = 1, 9 do a[d + i] = 0 end
    for _, m in ipairs(ms) do
      hll(a, d + 1, base, nm, spec, m[2], string.format('%d', m[1]), false, nil, true)
    end
    -- The unions are built below, from the buckets.
    member = ''
  end
  if member ~= '' then member = string.format('%d', tonumber(member)) end
  return hll(a, d + 1, base, nm, spec, t, member, read, out, false)
end
`

// netSrc records an attempt for an address, subnet or ASN.
// KEYS[1] base; ARGV: time, failed (0/1), username key or empty, read (0/1).
// Returns failures (10m, 1h, 24h) then usernames (10m, 1h, 24h).
const netSrc = `
local base, t, read = KEYS[1], tonumber(ARGV[1]), ARGV[4] == '1'
local sk = base .. ':win'
local sp = span(SHORT)
local a = load(sk, sp, true)
local out = {}
local dirty = counter(a, 1, SHORT, t, tonumber(ARGV[2]), out)
if distinct(a, sp + 1, base, 'u', SHORT, t, ARGV[3], read, out) then dirty = true end
if dirty then save(sk, a, SHORT) end
if not read then return {} end
return out
`

// userSrc reads a user's profile and records an account's failures.
// KEYS[1] base; ARGV: time, failed (-1: no account window, 0, 1),
// profile (0/1), read (0/1), max learn backlog.
// Returns the profile value (empty when none), the unfolded logins, then
// the account's failures (1h, 24h, 7d) when read.
const userSrc = `
local base, t, failed, read = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4] == '1'
local out = {'', {}}
if ARGV[3] == '1' then
  out[1] = redis.call('GET', base .. ':profile') or ''
  out[2] = redis.call('LRANGE', base .. ':learn', 0, tonumber(ARGV[5]) - 1)
end
if failed > 0 or (failed == 0 and read) then
  local sk = base .. ':win'
  local a = load(sk, span(LONG), false)
  local c = {}
  if counter(a, 1, LONG, t, failed, c) then save(sk, a, LONG) end
  if read then
    out[3], out[4], out[5] = c[1], c[2], c[3]
  end
end
return out
`

// passwordSrc records an account tried with a password.
// KEYS[1] base; ARGV: time, account key, read (0/1).
// Returns distinct accounts (1h, 24h, 7d) when read.
const passwordSrc = `
local base, t, read = KEYS[1], tonumber(ARGV[1]), ARGV[3] == '1'
local sk = base .. ':win'
local a = load(sk, 0, true)
local out = {}
if distinct(a, 1, base, 'a', LONG, t, ARGV[2], read, out) then save(sk, a, LONG) end
return out
`

// tenantSrc records an attempt in the tenant's rates.
// KEYS[1] base; ARGV: time, attempt (0/1), failed (0/1), read (0/1).
// Returns attempts (10m, 1h, 24h) then failures (10m, 1h, 24h).
const tenantSrc = `
local base, t, read = KEYS[1], tonumber(ARGV[1]), ARGV[4] == '1'
local sk = base .. ':win'
local sp = span(SHORT)
local a = load(sk, 2 * sp, false)
local out = {}
local w1 = counter(a, 1, SHORT, t, tonumber(ARGV[2]), out)
local w2 = counter(a, 1 + sp, SHORT, t, tonumber(ARGV[3]), out)
if w1 or w2 then save(sk, a, SHORT) end
if not read then return {} end
return out
`

// compactSrc folds learned logins into the profile: a compare-and-set on
// the profile's write tag and on the id of the last folded login, so that
// a concurrent compaction, a Forget or a trimmed backlog makes it a no-op
// instead of losing or resurrecting logins.
// KEYS[1] base; ARGV: expected tag (empty when there was no profile), number
// of logins folded, id of the last one, new value, ttl seconds.
const compactSrc = `
local base = KEYS[1]
local cur = redis.call('GET', base .. ':profile')
local tag = ''
if cur then tag = string.sub(cur, 1, 8) end
if tag ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
local e = redis.call('LINDEX', base .. ':learn', n - 1)
if not e or string.sub(e, 1, 8) ~= ARGV[3] then return 0 end
redis.call('SET', base .. ':profile', ARGV[4], 'EX', ARGV[5])
redis.call('LTRIM', base .. ':learn', n, -1)
return 1
`

// forgetSrc erases what is held on a user and returns the ids of the
// user's pending decisions, whose keys live in other slots.
// KEYS[1] base.
const forgetSrc = `
local base = KEYS[1]
local ids = redis.call('ZRANGE', base .. ':pending', 0, -1)
redis.call('DEL', base .. ':profile', base .. ':learn', base .. ':win', base .. ':pending')
return ids
`

// script is a Lua script run by EVALSHA, falling back to EVAL when the
// server does not know it (NOSCRIPT: after a restart or on a new node).
type script struct {
	name string
	src  string
	sha  string
}

func newScript(name, body string, lib bool) *script {
	src := body
	if lib {
		src = luaLib + body
	}
	sum := sha1.Sum([]byte(src))
	return &script{name: name, src: src, sha: hex.EncodeToString(sum[:])}
}

type scripts struct {
	net, user, password, tenant, compact, forget *script
}

func newScripts() scripts {
	return scripts{
		net:      newScript("net", netSrc, true),
		user:     newScript("user", userSrc, true),
		password: newScript("password", passwordSrc, true),
		tenant:   newScript("tenant", tenantSrc, true),
		compact:  newScript("compact", compactSrc, false),
		forget:   newScript("forget", forgetSrc, false),
	}
}

func (s *scripts) all() []*script {
	return []*script{s.net, s.user, s.password, s.tenant, s.compact, s.forget}
}

// load puts the scripts in the server's cache (on every master of a
// cluster), so that the first Scores do not pay the NOSCRIPT fallback.
func (s *scripts) load(ctx context.Context, rdb redis.UniversalClient) error {
	for _, sc := range s.all() {
		sha, err := rdb.ScriptLoad(ctx, sc.src).Result()
		if err != nil {
			return fmt.Errorf("load script %s: %w", sc.name, err)
		}
		if sha != sc.sha {
			return fmt.Errorf("load script %s: server hash %s, want %s", sc.name, sha, sc.sha)
		}
	}
	return nil
}

// call is one script invocation in a pipeline.
type call struct {
	sc   *script
	keys [1]string
	args []any
	cmd  *redis.Cmd
}

func (c *call) queue(ctx context.Context, p redis.Pipeliner) {
	c.cmd = p.EvalSha(ctx, c.sc.sha, c.keys[:], c.args...)
}

func (c *call) queueEval(ctx context.Context, p redis.Pipeliner) {
	c.cmd = p.Eval(ctx, c.sc.src, c.keys[:], c.args...)
}

func isNoScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }
