package redisstore

import (
	"encoding/hex"
	"net/netip"
	"strconv"

	"github.com/riskgate/riskgate/engine"
)

// Key layout. Every key is <prefix>{<tag>}<suffix>. Redis Cluster hashes
// only the part between the first '{' and the next '}', so everything held
// on one subject (a user, an address, a subnet, an ASN, a password, a
// tenant, a decision) lands in one slot, where one Lua script may touch it
// all, while different subjects spread over the cluster.
//
//	{t:<tenant>:u:<key hex>}:profile  string: the account: failure rings, profile (8-byte
//	                                  write tag + encodeProfile), learned logins not
//	                                  yet folded into it (profile.go); the account key is the
//	                                  user key when the user is known, else the username's
//	{t:<tenant>:u:<key hex>}:pending  zset: the user's pending decision ids, by expiry
//	{t:<tenant>:u:<key hex>}:attempts zset: the user's recent attempt ids (16 raw bytes
//	                                  each, keyed as in the attempt's key), by expiry
//	{t:<tenant>:ip:<addr>}:s          string: window state: failure rings, the distinct
//	                                  usernames' form (a few members, or the sorted set's
//	                                  or the HyperLogLogs' state)
//	{t:<tenant>:ip:<addr>}:m          sorted set: usernames by their last sighting's bucket
//	{t:<tenant>:ip:<addr>}:u10m:<n>   HyperLogLog: usernames in bucket n (also u1h, u24h)
//	{t:<tenant>:ip:<addr>}:u10m:w     HyperLogLog: usernames in the current 10m window
//	{t:<tenant>:net:<prefix>}:...     the same for the /24 or /48
//	{t:<tenant>:as:<asn>}:...         the same for the ASN
//	{t:<tenant>:pw:<key hex>}:...     the same, accounts tried with a password (a1h, a24h, a7d)
//	{t:<tenant>}:s                    window state: attempts and failures of the tenant,
//	                                  written by each node's aggregated flush (tenant.go)
//	{t:<tenant>:d:<decision id>}      string: encodePending
//	{t:<tenant>:a:<key hex>}          string: an attempt id, remembered for the attempt
//	                                  window: empty, then its decision's record
//	                                  (engine.Decided), or erasedMark once its
//	                                  user was erased
//
// (lua/batch.lua describes the window state and the HyperLogLogs.)
//
// Identifiers that could break the tag (a '}' in a tenant, say) are
// hex-encoded behind a '~', which no plain identifier contains.
type keyspace struct {
	prefix string
}

// Suffixes.
const (
	sufProfile = ":profile"
	sufWindows = ":s"
	sufPending = ":pending"
	// sufAttempts is the user's index of recent attempt ids (the batch
	// script derives it from the account's key).
	sufAttempts = ":attempts"
)

// safe reports whether s can go into a key as it is: the characters the
// engine allows in tenants and decision ids.
func safe(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func appendIdent(b []byte, s string) []byte {
	if safe(s) {
		return append(b, s...)
	}
	b = append(b, '~')
	return hex.AppendEncode(b, []byte(s))
}

func (k *keyspace) start(b []byte, tenant string) []byte {
	b = append(b, k.prefix...)
	b = append(b, "{t:"...)
	return appendIdent(b, tenant)
}

// user is the base of the keys held on a user or an account, then suffix.
// (Likewise the others: a subject's base, then suffix.)
func (k *keyspace) user(tenant string, user engine.Key, suffix string) string {
	var buf [128]byte
	b := k.start(buf[:0], tenant)
	b = append(b, ":u:"...)
	b = hex.AppendEncode(b, user[:])
	return string(append(append(b, '}'), suffix...))
}

func (k *keyspace) addr(tenant string, ip netip.Addr, suffix string) string {
	var buf [128]byte
	b := k.start(buf[:0], tenant)
	b = append(b, ":ip:"...)
	// Unmapped and without zone: the memory store keys addresses by their
	// 16-byte form, where ::ffff:192.0.2.1 and 192.0.2.1 are one address.
	b = ip.Unmap().WithZone("").AppendTo(b)
	return string(append(append(b, '}'), suffix...))
}

func (k *keyspace) subnet(tenant string, p netip.Prefix, suffix string) string {
	var buf [128]byte
	b := k.start(buf[:0], tenant)
	b = append(b, ":net:"...)
	b = p.Addr().Unmap().AppendTo(b)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(p.Bits()), 10)
	return string(append(append(b, '}'), suffix...))
}

func (k *keyspace) asn(tenant string, asn uint32, suffix string) string {
	var buf [128]byte
	b := k.start(buf[:0], tenant)
	b = append(b, ":as:"...)
	b = strconv.AppendUint(b, uint64(asn), 10)
	return string(append(append(b, '}'), suffix...))
}

func (k *keyspace) password(tenant string, pw engine.Key, suffix string) string {
	var buf [128]byte
	b := k.start(buf[:0], tenant)
	b = append(b, ":pw:"...)
	b = hex.AppendEncode(b, pw[:])
	return string(append(append(b, '}'), suffix...))
}

func (k *keyspace) tenant(tenant string, suffix string) string {
	var buf [128]byte
	return string(append(append(k.start(buf[:0], tenant), '}'), suffix...))
}

func (k *keyspace) pending(tenant, decisionID string) string {
	var buf [160]byte
	b := k.start(buf[:0], tenant)
	b = append(b, ":d:"...)
	b = appendIdent(b, decisionID)
	return string(append(b, '}'))
}

// attempt is the key remembering an attempt id, and its decision's record.
func (k *keyspace) attempt(tenant string, id engine.Key) string {
	var buf [128]byte
	b := k.start(buf[:0], tenant)
	b = append(b, ":a:"...)
	b = hex.AppendEncode(b, id[:])
	return string(append(b, '}'))
}
