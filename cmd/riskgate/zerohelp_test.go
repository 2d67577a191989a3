package main

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// TestServeZeroSaysWhatItMeans: a number, size or duration of serve's
// whose default is not 0 says in its help what 0 does (most take their
// default: an operator writing --memory-max-users=0 for "no limit" must
// read that it is 1000000), and a help that names the default 0 gives
// names the flag's own.
func TestServeZeroSaysWhatItMeans(t *testing.T) {
	parser, err := kong.New(&serveCLI{})
	if err != nil {
		t.Fatal(err)
	}
	says := regexp.MustCompile(`\b0(:| disables| leaves| \(| means)|\(0\b|negative|more than 0`)
	theDefault := regexp.MustCompile(`0: the default, ([^ .;)]+)`)
	for _, f := range parser.Model.Children[0].Flags {
		k := f.Target.Kind()
		if k != reflect.Int && k != reflect.Int64 && k != reflect.Float64 || f.Tag.Default == "" {
			continue
		}
		zero := f.Tag.Default == "0" || f.Tag.Default == "0s"
		if f.Target.Type() == reflect.TypeFor[time.Duration]() {
			d, _ := time.ParseDuration(f.Tag.Default)
			zero = d == 0
		}
		if zero {
			continue
		}
		if !says.MatchString(f.Help) {
			t.Errorf("--%s (default %s): the help does not say what 0 does: %q", f.Name, f.Tag.Default, f.Help)
		}
		if m := theDefault.FindStringSubmatch(f.Help); m != nil && m[1] != f.Tag.Default {
			t.Errorf("--%s: the help says 0 is the default %s; the default is %s", f.Name, m[1], f.Tag.Default)
		}
		if strings.Contains(f.Help, "0: the default") && theDefault.FindStringSubmatch(f.Help) == nil {
			t.Errorf("--%s: %q", f.Name, f.Help)
		}
	}
}
