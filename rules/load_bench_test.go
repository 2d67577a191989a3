package rules

import "testing"

// BenchmarkLoadDefaultRules is the rules part of a node's start: parse and
// compile the embedded default ruleset. (Compile, not Default: Default
// compiles once per process and would measure a memoized lookup.)
func BenchmarkLoadDefaultRules(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(DefaultSource()); err != nil {
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
