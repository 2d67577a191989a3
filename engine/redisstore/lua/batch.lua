-- riskgate's batch script: the Redis Function every store call runs
-- (engine/redisstore). It is loaded as a library of one function, after
-- the generated preamble (preamble.lua: the item kinds and the window
-- layout, shared with the Go code) and a line that sets SMALL, the store's
-- SmallSet option.
--
-- batch, below, is the function every Store call runs: it executes a
-- list of items, one per key in KEYS,
-- described by the packed instructions in ARGV[1], and replies with an
-- array: the items' results concatenated, each behind its 4-byte length,
-- then each account value read, as it is. A subject's or an account's
-- result says whether the rings it returns include the attempt's failure:
-- a failure written in place is added by the client. On a single server (or a
-- Sentinel group) one call carries all the items of a Score, or of
-- several coalesced Scores: their subjects and the queued writes of
-- earlier Commits. On a Redis Cluster the items are grouped by hash slot,
-- one call per group, since a function may only touch keys of one slot
-- there.
--
-- The function does the little that needs to be atomic next to the data
-- and leaves the arithmetic to the client: it updates the state values
-- and returns them, and the client (windows.go) sums the windows. Lua in
-- Redis is slow per operation (a redis.call, a struct.pack or a
-- string.sub each costs thousands of instructions, and every string made
-- is hashed byte by byte), so the state values are fixed-layout binary
-- strings edited with splices, written back only when they changed, and
-- numbers that Redis needs as strings come from the client as strings
-- (Lua would format them with printf).
--
-- A state value (<base>:s) is a flags byte (1: counter rings present,
-- 2: distinct members in HyperLogLogs, 8: in a sorted set; 4: in a sorted
-- set, the form before its counts were kept, converted when met), then, when
-- present, the counter rings (per series, per window: the newest bucket
-- number and one count per bucket, big-endian uint32: the memory store's
-- ring), then the distinct part: in the two small forms the wall-clock
-- bucket of the longest window in which the keys' times to live were last
-- set, then (in the state) up to 16 members, each a 6-byte fingerprint and
-- its last sighting as a bucket number of the finest window, or (sorted
-- set) the counts last taken of it: the finest bucket they were taken at
-- and one count per window (16 bytes); in
-- HyperLogLog mode, per window the union's bucket, the newest bucket with
-- data, a bit mask of the buckets with data and the union's count (48
-- bytes).
--
-- The HyperLogLogs: one per bucket (<base>:u10m:<bucket>, what a window is
-- made of) and one union per window (<base>:u10m:w, the window ending at
-- the newest bucket). An attempt adds its member to its bucket and, when
-- that changed the bucket, to the union, and counts the union again only
-- when that changed it. The union is rebuilt once per bucket period, when
-- the first attempt of a new bucket comes: copied from the one bucket with
-- data in the window, or merged (PFMERGE) from the few that have some. An
-- attempt dated in an older bucket (a replay, a late report) reads its own
-- window by PFCOUNT over its buckets.
--
-- Keys other than KEYS[i] are derived from it by suffix: they share its
-- hash tag, so they are in its slot.
local TINY = 16
-- The libraries (string, struct, bit, redis.call...) exist only when a
-- function runs, not while the library loads: batch sets these on its
-- first call.
local sub, rep, find, floor, char, concat, tostring, tonumber, unpack, ipairs, pairs
local unpack4, pack, band, bor, lshift, call

-- Per spec: its ring size, and its times to live as strings (a number
-- passed to redis.call is formatted by printf on every call).
local function prep(spec)
  local rs = 0
  for r = 1, 3 do
    rs = rs + 4 + 4 * spec[r][2]
    spec[r][4] = tostring(spec[r][1] * (spec[r][2] + 1))
  end
  spec.rs = rs
  spec.fmt = '>' .. rep('I4', rs / 4)
  spec.ttl = tostring(spec[3][1] * (spec[3][2] + 1))
end

-- num formats bucket numbers, once per number per call.
local nums = {}
local function num(x)
  local s = nums[x]
  if not s then
    s = tostring(x)
    nums[x] = s
  end
  return s
end

-- ringAdd adds each (t, k) of ev (a list of pairs) to the series whose
-- rings start at byte off of s (the memory store's ring: an event older
-- than the newest bucket's window is not counted; buckets between the
-- newest and the event's are emptied) and returns the new s. The rings
-- are unpacked into numbers and packed back once: a struct call and a
-- string cost the same however many numbers they hold.
local function ringAdd(s, off, spec, ev)
  local a = {unpack4(spec.fmt, s, off)}
  for e = 1, #ev, 2 do
    local t, k = ev[e], ev[e + 1]
    local o = 1
    for r = 1, 3 do
      local w, n = spec[r][1], spec[r][2]
      local idx = floor(t / w)
      local h = a[o]
      local add = true
      if h == 0 or idx - h >= n then
        for j = o + 1, o + n do a[j] = 0 end
        a[o] = idx
      elseif idx > h then
        for j = h + 1, idx do a[o + 1 + j % n] = 0 end
        a[o] = idx
      elseif idx <= h - n then
        add = false
      end
      if add then
        local p = o + 1 + idx % n
        local c = a[p] + k
        if c > 4294967295 then c = 4294967295 end
        a[p] = c
      end
      o = o + 1 + n
    end
  end
  return sub(s, 1, off - 1) .. pack(spec.fmt, unpack(a, 1, spec.rs / 4)) .. sub(s, off + spec.rs)
end

-- ringInPlace adds one event at time t to the rings of s at byte off
-- (as ringAdd) by writing the bytes that change in the key k itself: per
-- window its newest bucket and a count, or the window's ring when
-- buckets are emptied. s is left as it was.
local function ringInPlace(k, s, off, spec, t)
  for r = 1, 3 do
    local w, n = spec[r][1], spec[r][2]
    local idx = floor(t / w)
    local h = unpack4('>I4', s, off)
    local j = idx % n
    if h == 0 or idx - h >= n then
      call('SETRANGE', k, off - 1, pack('>I4', idx) .. rep('\0', 4 * j) .. pack('>I4', 1) .. rep('\0', 4 * (n - 1 - j)))
    elseif idx > h then
      -- Buckets h+1 .. idx-1 empty, idx gets 1.
      local ring = sub(s, off + 4, off + 3 + 4 * n)
      local a, cnt = (h + 1) % n, idx - h
      if a + cnt <= n then
        ring = sub(ring, 1, 4 * a) .. rep('\0', 4 * (cnt - 1)) .. pack('>I4', 1) .. sub(ring, 4 * (a + cnt) + 1)
      else
        local second = cnt - (n - a)
        ring = rep('\0', 4 * (second - 1)) .. pack('>I4', 1) .. sub(ring, 4 * second + 1, 4 * a) .. rep('\0', 4 * (n - a))
      end
      call('SETRANGE', k, off - 1, pack('>I4', idx) .. ring)
    elseif idx > h - n then
      local p = off + 4 + 4 * j
      local c = unpack4('>I4', s, p) + 1
      if c > 4294967295 then c = 4294967295 end
      call('SETRANGE', k, p - 1, pack('>I4', c))
    end
    off = off + 4 + 4 * n
  end
end

-- rebuild makes the union of window r (at a[4r-3..4r]: the union's
-- bucket, the newest bucket with data, the mask of buckets with data
-- counting back from it, the union's count) the window ending at bucket x,
-- from the buckets that hold data: usually one, copied.
local function rebuild(a, r, pre, wk, n, x)
  local ks = {}
  local nb, m = a[4 * r - 2], a[4 * r - 1]
  for i = 0, n - 1 do
    local b = nb - i
    if b <= x and b > x - n and band(m, lshift(1, i)) ~= 0 then ks[#ks + 1] = pre .. num(b) end
  end
  a[4 * r - 3] = x
  if #ks == 0 then
    call('DEL', wk)
    a[4 * r] = 0
    return
  end
  call('COPY', ks[1], wk, 'REPLACE')
  if #ks > 1 then
    ks[1] = wk
    call('PFMERGE', unpack(ks))
  end
  a[4 * r] = call('PFCOUNT', wk)
end

-- hll adds member (unless empty) at time t to the HyperLogLogs of series
-- nm under base, whose state is a[1..12] (see rebuild), and when read
-- sets each window's count in cnt. It returns whether a changed.
--
-- The union's count is kept in the state, so that an attempt whose member
-- the union already holds costs one PFADD per window. A union whose count
-- falls after a PFADD was lost (evicted) and is rebuilt.
--
-- Times to live: a bucket gets its window length plus a bucket when it is
-- created, which outlasts every window it is part of; a union copies the
-- newest bucket's, and is rebuilt before that runs out.
local function hll(a, base, nm, spec, t, member, read, cnt)
  local dirty = false
  for r = 1, 3 do
    local sr = spec[r]
    local w, n = sr[1], sr[2]
    local pre = base .. ':' .. nm .. sr[3] .. ':'
    local wk = pre .. 'w'
    local idx = floor(t / w)
    local o = 4 * r
    local changed = 0
    if member ~= '' then
      local bk = pre .. num(idx)
      changed = call('PFADD', bk, member)
      local nb, m, fresh = a[o - 2], a[o - 1], false
      if idx > nb then
        a[o - 1] = idx - nb < n and bor(band(lshift(m, idx - nb), 2 ^ n - 1), 1) or 1
        a[o - 2] = idx
        fresh = true
      elseif idx > nb - n and band(m, lshift(1, nb - idx)) == 0 then
        a[o - 1] = bor(m, lshift(1, nb - idx))
        fresh = true
      end
      if fresh or (changed == 1 and idx <= nb - n) then
        call('EXPIRE', bk, sr[4])
        dirty = true
      end
    end
    local cb = a[o - 3]
    if idx > cb then
      rebuild(a, r, pre, wk, n, idx)
      dirty = true
    elseif changed == 1 and idx > cb - n and call('PFADD', wk, member) == 1 then
      local c = call('PFCOUNT', wk)
      if c < a[o] * 0.9 then
        rebuild(a, r, pre, wk, n, cb)
      else
        a[o] = c
      end
      dirty = true
    end
    if read then
      if idx == a[o - 3] then
        cnt[r] = a[o]
      else
        -- A late attempt reads its own, older window.
        local ks = {}
        for b = idx - n + 1, idx do ks[#ks + 1] = pre .. num(b) end
        cnt[r] = call('PFCOUNT', unpack(ks))
      end
    end
  end
  return dirty
end

local HFMT = '>I4I4I4I4I4I4I4I4I4I4I4I4'
local HLEN = 48
-- LEN[n] is n as 4 bytes, for the results' lengths: a table lookup costs
-- far less than a struct.pack.
local LEN = {}
local function lenOf(n) return LEN[n] or pack('>I4', n) end
local RNG = '>I1c0I1c0I1c0I1c0I1c0I1c0I1c0'
-- The sorted form's counts: the finest bucket they were taken at, then
-- one per window; none taken yet.
local CFMT = '>I4I4I4I4'
local NOCOUNTS = '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0'

-- convert moves a small set (the sorted set zk) to the HyperLogLogs:
-- every member to its buckets, then the unions; it returns the new state
-- and, when read, the counts.
local function convert(s, d, flags, base, nm, spec, t, read, zk)
  local zs = call('ZRANGE', zk, '0', '-1', 'WITHSCORES')
  call('DEL', zk)
  local w0 = spec[1][1]
  local a = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
  for r = 1, 3 do
    local sr = spec[r]
    local w, n = sr[1], sr[2]
    local pre = base .. ':' .. nm .. sr[3] .. ':'
    local byBucket = {}
    local nb = 0
    for j = 1, #zs, 2 do
      local idx = floor(tonumber(zs[j + 1]) * w0 / w)
      local ms = byBucket[idx]
      if not ms then
        ms = {}
        byBucket[idx] = ms
      end
      ms[#ms + 1] = zs[j]
      if idx > nb then nb = idx end
    end
    local m = 0
    for idx, ms in pairs(byBucket) do
      local bk = pre .. num(idx)
      call('PFADD', bk, unpack(ms))
      call('EXPIRE', bk, sr[4])
      if idx > nb - n then m = bor(m, lshift(1, nb - idx)) end
    end
    a[4 * r - 2], a[4 * r - 1] = nb, m
  end
  local cnt = {}
  hll(a, base, nm, spec, t, '', read, cnt)
  return char(flags + 2) .. sub(s, 2, d - 1) .. pack(HFMT, unpack(a)), cnt
end

-- distinct records member (6 bytes, or '' for none) at time t in the
-- distinct count of base, whose part of s starts at byte d, and returns
-- the new s, whether it wrote s itself (to k; only when inplace), and,
-- unless the client counts s itself, the counts when read.
--
-- Three forms, by size. Up to TINY members, the set is in s: per member
-- its fingerprint and last sighting as a bucket number of the finest
-- window (b), 10 bytes, counted by the client; a member counts in a
-- window when that bucket is in it. Beyond, a sorted set (<base>:m) of
-- the members scored by that bucket number, counted by ZCOUNT (flag 8).
-- The counts are kept in s with the finest bucket they were taken at: the
-- windows of an attempt are those of its finest bucket, and the set
-- changes only by this function, which counts again (or, not reading,
-- forgets the counts) whenever its ZADD changed it. So an attempt whose
-- sighting was already recorded in the same finest bucket costs one ZADD,
-- which changes nothing, instead of three ZCOUNT. The form before (flag
-- 4) kept no counts; it gets them when met.
-- Past SMALL members within the longest window, HyperLogLogs (flag 2, s
-- holding their state), until their data has aged out of every window.
-- A sighting is written only when its bucket changes.
--
-- Times to live: the small forms keep in s (4 bytes before the members)
-- the wall-clock bucket of the longest window (now) in which the keys'
-- time to live was last set to that window plus a bucket. Within the same
-- bucket a sighting is written in place (SETRANGE, APPEND) without
-- setting it again: the keys outlive every sighting's windows anyway.
local function distinct(s, d, k, nm, spec, t, member, read, b, now, P, rpos, inplace)
  local L = spec[3]
  local flags = s:byte(1)
  local wall = floor(now / L[1])
  if flags >= 2 and flags < 4 and member ~= '' then
    local nb = unpack4('>I4', s, d + 36)
    if nb <= floor(t / L[1]) - L[2] then
      s = char(flags - 2) .. sub(s, 2, d - 1) .. '\0\0\0\0'
      flags = flags - 2
    end
  end
  if flags < 2 then
    if member == '' then return s, false, nil end
    local fresh = inplace and unpack4('>I4', s, d) >= wall
    local e0 = d + 4
    local p = e0
    while true do
      local i = find(s, member, p, true)
      if not i then break end
      if (i - e0) % 10 == 0 then
        if b > unpack4('>I4', s, i + 6) then
          local pb = pack('>I4', b)
          s = sub(s, 1, i + 5) .. pb .. sub(s, i + 10)
          if fresh then
            call('SETRANGE', k, i + 5, pb)
            return s, true, nil
          end
        end
        return s, false, nil
      end
      p = i + 1
    end
    local n = (#s - e0 + 1) / 10
    local e = member .. pack('>I4', b)
    if n < TINY then
      s = s .. e
      if fresh then
        call('APPEND', k, e)
        return s, true, nil
      end
      return s, false, nil
    end
    -- Full: the members no window can count any more make room, or the
    -- set moves to a sorted set.
    local ratio = L[1] / spec[1][1]
    local lo = floor(b / ratio) - L[2]
    local kept, args = {}, {}
    for i = 0, n - 1 do
      local at = e0 + 10 * i
      local bi = unpack4('>I4', s, at + 6)
      if floor(bi / ratio) > lo then
        kept[#kept + 1] = sub(s, at, at + 9)
        args[#args + 1] = bi
        args[#args + 1] = sub(s, at, at + 5)
      end
    end
    if #kept < TINY then
      return sub(s, 1, e0 - 1) .. concat(kept) .. e, false, nil
    end
    local zk = sub(k, 1, -3) .. ':m'
    local bs, lo1, hi1, lo2, hi2, lo3, hi3 = unpack4(RNG, P, rpos)
    args[#args + 1] = bs
    args[#args + 1] = member
    call('ZADD', zk, unpack(args))
    call('EXPIRE', zk, spec.ttl)
    s = char(flags + 8) .. sub(s, 2, d - 1) .. pack('>I4', wall)
    if not read then return s .. NOCOUNTS, false, nil end
    return s .. pack(CFMT, b, call('ZCOUNT', zk, lo1, hi1), call('ZCOUNT', zk, lo2, hi2), call('ZCOUNT', zk, lo3, hi3)), false, nil
  end
  if flags >= 4 then
    local base = sub(k, 1, -3) -- k is <base>:s
    local zk = base .. ':m'
    -- moved: s is to be written whole; check: the set may be too large.
    local changed, moved, check = false, false, false
    if flags < 8 then
      -- The form before the kept counts (flag 4).
      flags = flags + 4
      s = char(flags) .. sub(s, 2, d + 3) .. NOCOUNTS
      moved = true
    end
    if member ~= '' then
      changed = call('ZADD', zk, 'GT', 'CH', (unpack4('>I1c0', P, rpos)), member) == 1
      if unpack4('>I4', s, d) < wall then
        call('EXPIRE', zk, spec.ttl)
        s = sub(s, 1, d - 1) .. pack('>I4', wall) .. sub(s, d + 4)
        moved, check = true, true
      end
    end
    local counts
    if read then
      if not changed and unpack4('>I4', s, d + 4) == b then return s, false, nil end
      local _, lo1, hi1, lo2, hi2, lo3, hi3 = unpack4(RNG, P, rpos)
      local c3 = call('ZCOUNT', zk, lo3, hi3)
      counts = pack(CFMT, b, call('ZCOUNT', zk, lo1, hi1), call('ZCOUNT', zk, lo2, hi2), c3)
      -- The set's size is looked at when the longest window holds more
      -- than SMALL, and once a longest-window bucket (the members no
      -- window counts any more stay until then).
      check = check or changed and c3 > SMALL
    elseif changed then
      check = true
      if sub(s, d + 4) ~= NOCOUNTS then counts = NOCOUNTS end
    end
    if check and call('ZCARD', zk) > SMALL then
      -- The members no window can count any more make room, or the set
      -- moves to HyperLogLogs. (Counts taken stay true: the members
      -- removed are older than every window of the attempt.)
      local _, _, _, _, _, lo3 = unpack4(RNG, P, rpos)
      call('ZREMRANGEBYSCORE', zk, '-inf', '(' .. lo3)
      if call('ZCARD', zk) > SMALL then
        local ns, cnt = convert(s, d, flags - 8, base, nm, spec, t, read, zk)
        return ns, false, cnt
      end
    end
    if not counts then return s, false, nil end
    s = sub(s, 1, d + 3) .. counts
    if inplace and not moved then
      call('SETRANGE', k, d + 3, counts)
      return s, true, nil
    end
    return s, false, nil
  end
  local a = {unpack4(HFMT, s, d)}
  a[13] = nil
  local cnt = {}
  if hll(a, sub(k, 1, -3), nm, spec, t, member, read, cnt) then
    s = sub(s, 1, d - 1) .. pack(HFMT, unpack(a))
  end
  return s, false, cnt
end

-- subject loads the state of base, records an event (a failure, fl odd;
-- or the tenant's counts, incs) and a member, and appends the result to
-- out: the state, then the distinct counts when it has some.
-- ring: the spec of its counter series (nil: none), nseries of them;
-- dspec: the spec of its distinct count (nil: none).
local function subject(out, k, ring, nseries, fl, incs, dspec, nm, t, member, b, now, P, rpos)
  local old = call('GET', k)
  local s = old or '\0'
  local flags = s:byte(1) or 0
  local rs = 0
  if ring then rs = nseries * ring.rs end
  -- Anything not of the expected shape starts afresh.
  if flags >= 10 or flags >= 6 and flags < 8 or ring and flags % 2 == 1 and #s < 1 + rs then s, flags = '\0', 0 end
  local failed = ring and fl % 2 == 1
  local whole = false -- the state must be written whole
  if ring and (failed or incs) and flags % 2 == 0 then
    s = char(flags + 1) .. rep('\0', rs) .. sub(s, 2)
    flags = flags + 1
    whole = true
  end
  if incs then
    -- The tenant's counts: per series, its (time, count) pairs.
    for series = 1, nseries do
      if incs[series] then s = ringAdd(s, 2 + (series - 1) * ring.rs, ring, incs[series]) end
    end
  end
  local applied = '\1' -- the returned rings include this event's failure
  local cnt = nil
  local read = fl >= 2
  if dspec then
    local d = 2
    if flags % 2 == 1 then d = 2 + rs end
    local ok
    if flags >= 8 then
      ok = #s == d + 19
    elseif flags >= 4 then
      ok = #s == d + 3
    elseif flags >= 2 then
      ok = #s == d - 1 + HLEN
    else
      ok = #s >= d + 3 and (#s - d - 3) % 10 == 0
    end
    if not ok then
      s = char(flags % 2) .. sub(s, 2, d - 1) .. '\0\0\0\0'
      whole = true
    end
    local wrote
    local before = s
    s, wrote, cnt = distinct(s, d, k, nm, dspec, t, member, read, b, now, P, rpos, not whole)
    local nf = s:byte(1)
    if s ~= before and not wrote then whole = true end
    if failed and not whole and nf - nf % 2 ~= 2 and unpack4('>I4', s, d) >= floor(now / dspec[3][1]) then
      -- Only the rings change, and the state's time to live need not
      -- move: written in place, the client adds the failure to what it
      -- gets.
      ringInPlace(k, s, 2, ring, t)
      applied = '\0'
    elseif failed then
      s = ringAdd(s, 2, ring, {t, 1})
      whole = true
    end
    if whole and (old or s ~= before or flags % 2 == 1) then
      -- Written whole: its time to live is set again, and so is the
      -- wall-clock bucket that records it.
      if nf - nf % 2 ~= 2 then
        s = sub(s, 1, d - 1) .. pack('>I4', floor(now / dspec[3][1])) .. sub(s, d + 4)
      end
      call('SET', k, s, 'EX', dspec.ttl)
    end
  elseif s ~= old and (old or s ~= '\0') then
    call('SET', k, s, 'EX', ring.ttl)
  end
  if read then
    -- In parts: concat makes the one string of the reply.
    if cnt then
      out[#out + 1] = lenOf(#s + 13)
      out[#out + 1] = applied
      out[#out + 1] = s
      out[#out + 1] = pack('>I4I4I4', cnt[1], cnt[2], cnt[3])
    else
      out[#out + 1] = lenOf(#s + 1)
      out[#out + 1] = applied
      out[#out + 1] = s
    end
  else
    out[#out + 1] = '\0\0\0\0'
  end
end

local NONE = '\0\0\0\0\0\0'
-- An account's results: its rings include the failure, or the client adds it.
local APPLIED, INPLACE = '\0\0\0\1\1', '\0\0\0\1\0'
local EMPTY = '\0\0\0\0'

-- batch runs the items: KEYS[i] is item i's key, ARGV[1] their packed
-- instructions.
local function batch(keys, args)
  if not call then
    sub, rep, find, floor, char, concat = string.sub, string.rep, string.find, math.floor, string.char, table.concat
    tostring, tonumber, unpack, ipairs, pairs = _G.tostring, _G.tonumber, _G.unpack, _G.ipairs, _G.pairs
    unpack4, pack = struct.unpack, struct.pack
    band, bor, lshift = bit.band, bit.bor, bit.lshift
    prep(SHORT)
    prep(LONG)
    for n = 0, 2047 do LEN[n] = pack('>I4', n) end
    call = redis.call
  end
  local P = args[1]
  local out = {}
  -- The reply: the items' results concatenated, then the accounts' values
  -- as they are (a Lua string made from another costs a hash of every
  -- byte).
  local reply = {''}
  nums = {}
  local pos = 1
  -- Items up to gate belong to an attempt seen before (KIND_ATTEMPT): they
  -- are read without counting anything.
  local gate = 0
  for i = 1, #keys do
    local base = keys[i] -- the item's key: <base>:s, <base>:profile, or as named
    local kind = P:byte(pos)
    pos = pos + 1
    if kind == KIND_NET then
      local t, fl, m, b, rl
      local now
      t, fl, m, now, b, rl, pos = unpack4('>I4Bc6I4I4B', P, pos)
      if m == NONE then m = '' end
      if i <= gate then fl, m = fl - fl % 2, '' end
      subject(out, base, SHORT, 1, fl, nil, SHORT, 'u', t, m, b, now, P, pos)
      pos = pos + rl
    elseif kind == KIND_PASSWORD then
      local t, fl, m, b, rl
      local now
      t, fl, m, now, b, rl, pos = unpack4('>I4Bc6I4I4B', P, pos)
      if i <= gate then fl, m = fl - fl % 2, '' end
      subject(out, base, nil, 0, fl, nil, LONG, 'a', t, m, b, now, P, pos)
      pos = pos + rl
    elseif kind == KIND_TENANT then
      local n
      n, pos = unpack4('>I2', P, pos)
      local incs = nil
      if n > 0 then
        incs = {}
        for j = 1, n do
          local series, t, k
          series, t, k, pos = unpack4('>BI4I4', P, pos)
          local l = incs[series]
          if not l then
            l = {}
            incs[series] = l
          end
          l[#l + 1] = t
          l[#l + 1] = k
        end
      end
      subject(out, base, SHORT, 2, 2, incs, nil, nil, 0, '')
    elseif kind == KIND_ACCOUNT then
      -- An account: its failures (fl 1: record one) and, for a known
      -- user, the profile and the learned logins not yet folded into it,
      -- returned whole when read (fl 2).
      local t, fl
      t, fl, pos = unpack4('>I4B', P, pos)
      if band(fl, INDEX_ATTEMPT) ~= 0 then
        -- The user's attempt: its id goes into the user's index of
        -- recent attempts (<base>:attempts, scored by expiry), which
        -- Forget reads to erase what is kept under each. An attempt seen
        -- before was indexed then.
        local ttl, score, min, id
        ttl, score, min, id, pos = unpack4('>I1c0I1c0I1c0c16', P, pos)
        fl = fl - INDEX_ATTEMPT
        if i > gate then
          local zk = sub(base, 1, -9) .. ':attempts'
          call('ZADD', zk, score, id)
          -- The expired ids are trimmed only to bound the set, so once
          -- in eight of its attempts (by the keyed id, which no caller
          -- can steer): a set holds about eight expired ids more, and a
          -- Score one call less. Forget finds an expired id's key gone.
          if id:byte(16) % 8 == 0 then call('ZREMRANGEBYSCORE', zk, '-inf', min) end
          call('EXPIRE', zk, ttl)
        end
      end
      if i <= gate then fl = fl - fl % 2 end
      local k = base
      local v = call('GET', k)
      local applied = '\1'
      if fl % 2 == 1 then
        local rs = LONG.rs
        if v and v:byte(1) % 2 == 1 and #v >= 1 + rs then
          ringInPlace(k, v, 2, LONG, t)
          call('EXPIRE', k, LONG.ttl, 'GT')
          applied = '\0'
        else
          local ring = ringAdd(rep('\0', rs), 1, LONG, {t, 1})
          if v then
            v = char(v:byte(1) + 1) .. ring .. sub(v, 2)
            call('SET', k, v, 'KEEPTTL')
            call('EXPIRE', k, LONG.ttl, 'GT')
          else
            v = '\1' .. ring .. '\0\0\0\0'
            call('SET', k, v, 'EX', LONG.ttl)
          end
        end
      end
      if fl >= 2 then reply[#reply + 1] = v or '' end
      if applied == '\1' then out[#out + 1] = APPLIED else out[#out + 1] = INPLACE end
    elseif kind == KIND_LEARN then
      -- A learned login, appended to the account's value behind its
      -- length; the oldest beyond cap are dropped when the value outgrows
      -- capBytes. The time to live is set again when the client says
      -- (at most once a day per account and node: ttlmemo.go).
      local ttl, refresh, cap, capBytes, e
      ttl, refresh, cap, capBytes, e, pos = unpack4('>I1c0BI2I4I4c0', P, pos)
      local k = base
      local n = call('APPEND', k, e)
      if n == #e then
        call('SET', k, '\0\0\0\0\0' .. e, 'EX', ttl)
      else
        if refresh == 1 then call('EXPIRE', k, ttl) end
        if n > capBytes then
          local v = call('GET', k)
          local es = 6 + unpack4('>I4', v, 2 + (v:byte(1) % 2) * LONG.rs) + (v:byte(1) % 2) * LONG.rs
          local offs, p = {}, es
          while p <= #v do
            offs[#offs + 1] = p
            p = p + 4 + unpack4('>I4', v, p)
          end
          if #offs > cap then
            call('SET', k, sub(v, 1, es - 1) .. sub(v, offs[#offs - cap + 1]), 'KEEPTTL')
          end
        end
      end
      out[#out + 1] = EMPTY
    elseif kind == KIND_PENDING then
      local ttl, v
      ttl, v, pos = unpack4('>I1c0I4c0', P, pos)
      call('SET', base, v, 'EX', ttl)
      out[#out + 1] = EMPTY
    elseif kind == KIND_PEND_IDX then
      local score, min, ttl, id
      score, min, ttl, id, pos = unpack4('>I1c0I1c0I1c0I1c0', P, pos)
      local zk = base .. ':pending'
      call('ZADD', zk, score, id)
      -- Trimmed to bound the set, so not on every pending decision: on
      -- those whose id (signed: no caller steers it) ends in a character
      -- of five in 32, as the attempts' index is (KIND_ACCOUNT).
      if id:byte(#id) % 8 == 0 then call('ZREMRANGEBYSCORE', zk, '-inf', min) end
      call('EXPIRE', zk, ttl)
      out[#out + 1] = EMPTY
    elseif kind == KIND_COMPACT then
      -- Compaction: the folded profile replaces the profile and the
      -- logins folded into it, provided the profile's write tag and the
      -- last folded login are still what the client read.
      local ttl, tag, folded, lastOff, last, v
      ttl, tag, folded, lastOff, last, v, pos = unpack4('>I1c0I1c0I4I4c8I4c0', P, pos)
      local k = base
      local cur = call('GET', k)
      local ok = '0'
      if cur then
        local r = (cur:byte(1) % 2) * LONG.rs
        local pl = unpack4('>I4', cur, 2 + r)
        local ps = 6 + r
        local es = ps + pl
        local curTag = ''
        if pl >= 8 then curTag = sub(cur, ps, ps + 7) end
        if curTag == tag and #cur >= es + folded - 1 and sub(cur, es + lastOff + 4, es + lastOff + 11) == last then
          call('SET', k, sub(cur, 1, 1 + r) .. pack('>I4', #v) .. v .. sub(cur, es + folded), 'EX', ttl)
          ok = '1'
        end
      end
      out[#out + 1] = '\0\0\0\1' .. ok
    elseif kind == KIND_TAKE then
      local v = call('GETDEL', base)
      if v then v = '1' .. v else v = '0' end
      out[#out + 1] = lenOf(#v) .. v
    elseif kind == KIND_FORGET then
      -- A user's erasure: the account goes; the reply is the number of
      -- pending decision ids, each behind its length, then the recent
      -- attempt ids (16 bytes each), whose keys the client erases next
      -- (KIND_DELETE, KIND_ERASE: they live in other slots). Both indexes
      -- stay until that is done (the client deletes them last), so that
      -- a Forget that fails half way can be sent again.
      local ids = call('ZRANGE', base .. ':pending', '0', '-1')
      local atts = call('ZRANGE', base .. ':attempts', '0', '-1')
      call('DEL', base .. ':profile')
      local parts = {pack('>I4', #ids)}
      for _, id in ipairs(ids) do parts[#parts + 1] = pack('>I4', #id) .. id end
      for _, id in ipairs(atts) do parts[#parts + 1] = id end
      local r = concat(parts)
      out[#out + 1] = pack('>I4', #r) .. r
    elseif kind == KIND_ATTEMPT then
      -- An attempt id: remembered for ttl when new (reply 0); seen before
      -- (a redelivery, on any node), the next n items are only read, and
      -- the reply is 1 and the decision's record, if one was stored.
      local ttl, n
      ttl, n, pos = unpack4('>I1c0B', P, pos)
      if call('SET', base, '', 'NX', 'EX', ttl) then
        out[#out + 1] = '\0\0\0\1\0'
      else
        gate = i + n
        local v = '\1' .. (call('GET', base) or '')
        out[#out + 1] = lenOf(#v) .. v
      end
    elseif kind == KIND_DECIDED then
      -- An attempt's decision, kept under its id with the id's own time
      -- to live (KEEPTTL), which the user's index of attempts covers:
      -- longer, it could outlive the index entry that Forget finds it by
      -- (an outcome reported for the attempt before its Score indexed
      -- it then). An id no longer remembered (XX) keeps nothing, being in
      -- no index. One call: the erased mark it replaced, rarely (the user
      -- erased while the attempt was being decided), is put back. A mark
      -- (a record no longer than a fingerprint: no decision) only fills
      -- an id that holds nothing yet: it never replaces a decision.
      local v
      v, pos = unpack4('>I4c0', P, pos)
      if #v <= MIN_RECORD then
        if call('GET', base) == '' then call('SET', base, v, 'XX', 'KEEPTTL') end
      elseif call('SET', base, v, 'XX', 'KEEPTTL', 'GET') == ERASED then
        call('SET', base, ERASED, 'KEEPTTL')
      end
      out[#out + 1] = EMPTY
    elseif kind == KIND_ERASE then
      -- An erased user's attempt: its decision goes, the id stays
      -- remembered (a redelivery is still not counted) until its time to
      -- live ends.
      call('SET', base, ERASED, 'XX', 'KEEPTTL')
      out[#out + 1] = EMPTY
    elseif kind == KIND_DELETE then
      call('DEL', base)
      out[#out + 1] = EMPTY
    else
      return redis.error_reply('riskgate: unknown item kind')
    end
  end
  reply[1] = concat(out)
  return reply
end
