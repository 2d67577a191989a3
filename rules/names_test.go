package rules

import (
	"regexp"
	"strings"
	"testing"
)

// The expressions the hand-written checks replace: the model they are
// held to.
var nameModels = []struct {
	name  string
	check func(string) bool
	model *regexp.Regexp
}{
	{"id", validID, regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)},
	{"notify", validNotify, regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)},
	{"tenant", ValidTenant, regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)},
	{"label", validLabel, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)},
}

func TestNamesMatchTheirExpressions(t *testing.T) {
	cases := []string{
		"", "a", "A", "0", "_", "-", ".", "a.b", "a-b", "a_b", "ab", "Ab", "aB", "new_device",
		"new-country", "-a", ".hidden", "..", "a/b", "a b", "a\n", "\na", "é", "aé", "a\x00",
		"a\xff", "\xff", "ip-deny-list", "acme", "Acme_Corp-2", "x.y.z",
		strings.Repeat("a", 31), strings.Repeat("a", 32), strings.Repeat("a", 33),
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
		"a" + strings.Repeat("_", 63), "a" + strings.Repeat(".", 64),
	}
	for _, m := range nameModels {
		for _, s := range cases {
			if got, want := m.check(s), m.model.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the expression says %v", m.name, s, got, want)
			}
		}
	}
}

// Every byte in every position, at the lengths around each bound.
func TestNamesEveryByte(t *testing.T) {
	for _, m := range nameModels {
		for _, n := range []int{1, 2, 32, 33, 64, 65} {
			for _, pos := range []int{0, 1, n - 1} {
				if pos >= n {
					continue
				}
				b := []byte(strings.Repeat("a", n))
				for c := 0; c < 256; c++ {
					b[pos] = byte(c)
					s := string(b)
					if got, want := m.check(s), m.model.MatchString(s); got != want {
						t.Fatalf("%s(%q) = %v, the expression says %v", m.name, s, got, want)
					}
				}
			}
		}
	}
}

func FuzzNamesMatchTheirExpressions(f *testing.F) {
	for _, s := range []string{"a", "new_device", "Acme-2", ".x", strings.Repeat("z", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range nameModels {
			if got, want := m.check(s), m.model.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the expression says %v", m.name, s, got, want)
			}
		}
	})
}
