package rules

import "embed"

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

// Default compiles the embedded default ruleset.
func Default() (*Set, error) { return Compile(DefaultSource()) }
