package rules

import (
	"embed"
	"sync"
)

// defaultdoc.go is default.yaml's parse, generated from it (go generate
// ./rules); a test fails when it is stale.
//
//go:generate go test -run ^TestDefaultDocGenerated$ -update .

//go:embed default.yaml
var defaultFS embed.FS

// DefaultSource is the embedded default ruleset, used when no rule file is
// given.
func DefaultSource() Source {
	data, err := defaultFS.ReadFile("default.yaml")
	if err != nil {
		panic("rules: embedded default.yaml missing: " + err.Error())
	}
	return Source{Name: "default.yaml (embedded)", Data: data}
}

// Default returns the embedded default ruleset. It is compiled once per
// process: the embedded bytes never change and a Set is immutable.
func Default() (*Set, error) { return defaultSet() }

var defaultSet = sync.OnceValues(func() (*Set, error) { return Compile(DefaultSource()) })

// CompileDefaultAhead starts compiling the embedded default ruleset on a
// goroutine of its own, for a process about to need it (serve, which loads
// it unless rule files are given). Compiling is about a fifth of serve's
// time from exec to ready; started during package initialisation
// (cmd/riskgate/internal/serveahead), it runs on another core beside the
// initialisation of the last packages and the parsing of flags instead of
// after them. A process that turns out to load rule files
// has spent a few milliseconds of a second core for nothing.
func CompileDefaultAhead() { go func() { _, _ = defaultSet() }() }
