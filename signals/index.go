package signals

import (
	"slices"
	"strings"
)

// index is a small copy-on-write map from strings, read on every Score:
// the RBA's tenants and a population's browsers. Up to fewKeys it is
// searched in order: a deployment has a tenant or a few and the
// user-agent classifier a dozen browsers, and comparing a handful of short
// strings costs a fraction of hashing the key for a map. Past that, a map
// answers.
type index[V any] struct {
	keys []string
	vals []V
	m    map[string]V // when len(keys) > fewKeys
}

const fewKeys = 8

func (x *index[V]) get(k string) (v V, ok bool) {
	if x == nil {
		return v, false
	}
	if x.m != nil {
		v, ok = x.m[k]
		return v, ok
	}
	if i := slices.Index(x.keys, k); i >= 0 {
		return x.vals[i], true
	}
	return v, false
}

func (x *index[V]) len() int {
	if x == nil {
		return 0
	}
	return len(x.keys)
}

// with returns a copy of x with k set to v; k is cloned when new.
func (x *index[V]) with(k string, v V) *index[V] {
	n := x.len()
	y := &index[V]{keys: make([]string, 0, n+1), vals: make([]V, 0, n+1)}
	if x != nil {
		y.keys, y.vals = append(y.keys, x.keys...), append(y.vals, x.vals...)
	}
	if i := slices.Index(y.keys, k); i >= 0 {
		y.vals[i] = v
	} else {
		y.keys, y.vals = append(y.keys, strings.Clone(k)), append(y.vals, v)
	}
	if len(y.keys) > fewKeys {
		y.m = make(map[string]V, len(y.keys))
		for i, k := range y.keys {
			y.m[k] = y.vals[i]
		}
	}
	return y
}
