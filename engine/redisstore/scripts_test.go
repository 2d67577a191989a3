package redisstore

import (
	"flag"
	"os"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite lua/preamble.lua from the Go constants")

// TestLuaPreamble: lua/preamble.lua is what the Go constants (item kinds,
// window layout) render to, so the Lua code and the Go code share each
// constant, defined once in Go. go generate ./engine/redisstore rewrites
// it.
func TestLuaPreamble(t *testing.T) {
	want := preamble()
	if *update {
		if err := os.WriteFile("lua/preamble.lua", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if luaPreamble != want {
		t.Errorf("lua/preamble.lua is stale: run go generate ./engine/redisstore")
	}
}

// TestLuaUsesNamedKinds: the batch script names every item kind by its
// constant rather than by a number, and handles each.
func TestLuaUsesNamedKinds(t *testing.T) {
	if m := regexp.MustCompile(`kind == \d`).FindString(luaBatch); m != "" {
		t.Errorf("batch.lua compares a kind with a number: %q", m)
	}
	for _, k := range kindNames {
		if !regexp.MustCompile(`kind == ` + k.name + ` then`).MatchString(luaBatch) {
			t.Errorf("batch.lua does not handle %s", k.name)
		}
	}
}
