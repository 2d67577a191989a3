package rules

import "testing"

// BenchmarkLoadDefaultRules is the rules part of a node's start: parse and
// compile the embedded default ruleset.
func BenchmarkLoadDefaultRules(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Default(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDefaultRules is the YAML part alone.
func BenchmarkParseDefaultRules(b *testing.B) {
	src := DefaultSource()
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := parse(src); errs != nil {
			b.Fatal(errs)
		}
	}
}
