package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// TestRefuseNegative: a negative value is refused naming its flag, unless
// the flag's help gives negative values (or -1) a meaning.
func TestRefuseNegative(t *testing.T) {
	type cmd struct {
		Timeout time.Duration `help:"A bound."`
		Poll    time.Duration `help:"How often (negative: never)."`
		Count   int           `help:"How many; -1: none."`
		Share   float64       `help:"A share."`
		Name    string        `help:"A name."`
	}
	for _, tc := range []struct {
		args []string
		want string // "" when accepted
	}{
		{nil, ""},
		{[]string{"--timeout=0s", "--count=0", "--share=0"}, ""},
		{[]string{"--timeout=-1ns"}, "--timeout: -1ns is negative; it takes 0 or more"},
		{[]string{"--poll=-1s"}, ""},
		{[]string{"--count=-1"}, ""},
		{[]string{"--count=-2"}, "--count: -2 is negative; it takes -1 or a value of 0 or more"},
		{[]string{"--share=-0.5"}, "--share: -0.5 is negative"},
		{[]string{"--name=-1"}, ""},
	} {
		var c cmd
		err := refuseNegative(parseFlags(t, &c, tc.args))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: refused: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestRefuseNegativeNamesTheVariable: a negative value that came from a
// flag's variable is named by the variable, which is what the operator
// wrote; one on the command line by its flag, whatever the variable says.
func TestRefuseNegativeNamesTheVariable(t *testing.T) {
	type cmd struct {
		Limit int `help:"A limit." env:"RISKGATE_TEST_LIMIT"`
	}
	t.Setenv("RISKGATE_TEST_LIMIT", "-3")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "RISKGATE_TEST_LIMIT (--limit): -3 is negative; it takes 0 or more"},
		{[]string{"--limit=-5"}, "--limit: -5 is negative"},
	} {
		var c cmd
		if err := refuseNegative(parseFlags(t, &c, tc.args)); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// parseFlags parses args into the command target, as kong does.
func parseFlags(t *testing.T, target any, args []string) *kong.Context {
	t.Helper()
	p, err := kong.New(target)
	if err != nil {
		t.Fatal(err)
	}
	k, err := p.Parse(args)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return k
}

// TestServeDurationsRefused: every duration flag of serve, by its flag
// and by its variable, refuses a negative value unless its help gives
// one a meaning, a positive value under a millisecond, and, for a poll,
// one under a second; each refusal names what the operator wrote. Its
// default is taken.
func TestServeDurationsRefused(t *testing.T) {
	parse := func(t *testing.T, args ...string) error {
		t.Helper()
		var c cli
		p, err := kong.New(&c, kong.Name("riskgate"), kong.BindTo(context.Background(), (*context.Context)(nil)), kong.Exit(func(int) { t.Fatal("exit") }))
		if err != nil {
			t.Fatal(err)
		}
		k, err := p.Parse(append([]string{"serve"}, args...))
		if err != nil {
			return err
		}
		return refuseNegative(k)
	}
	durations := 0
	for _, f := range serveFlags(serveModel(t)) {
		if f.Target.Type() != reflect.TypeFor[time.Duration]() {
			continue
		}
		durations++
		poll := strings.Contains(strings.ToLower(f.Help), "how often")
		cases := []struct {
			value, want string // want "": taken
		}{
			{f.Default, ""},
			{"-1s", "-1s is negative"},
			{"1us", "1µs is under a millisecond"},
			{"1ms", ""},
			{"999ms", ""},
			{"1s", ""},
		}
		if strings.Contains(f.Help, "negative") {
			cases[1].want = ""
		}
		if poll {
			cases[3].want, cases[4].want = "1ms is under a second", "999ms is under a second"
			cases[2].want = "1µs is under a second"
		}
		for _, tc := range cases {
			if tc.value == "" {
				continue
			}
			t.Run(f.Name+"="+tc.value, func(t *testing.T) {
				for _, via := range []struct {
					name, prefix string
					args         []string
				}{
					{"flag", "--" + f.Name + ": ", []string{"--" + f.Name + "=" + tc.value}},
					{"variable", envName(f.Name) + " (--" + f.Name + "): ", nil},
				} {
					if via.args == nil {
						t.Setenv(envName(f.Name), tc.value)
					}
					err := parse(t, via.args...)
					switch {
					case tc.want == "" && err != nil:
						t.Errorf("%s: refused: %v", via.name, err)
					case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), via.prefix+tc.want)):
						t.Errorf("%s: %v, want %q", via.name, err, via.prefix+tc.want)
					}
				}
			})
		}
	}
	if durations < 15 {
		t.Fatalf("%d duration flags found; serve has more", durations)
	}
}
