package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/alecthomas/kong"
)

// refuseNegative refuses a negative number, duration or size given to a
// flag (or its RISKGATE_* variable, or its key in the configuration file)
// whose help does not give negative values a meaning: kong parses them,
// and each setting would otherwise quietly take its default, or, for a
// bound such as --store-timeout, no bound at all. A help that says
// "negative" admits any; one that says "-1" admits -1 alone. The file's
// values are checked where it is read (loadConfig), so that they are
// named with its file and line; this names the variable when the value
// came from one, and the flag otherwise.
func refuseNegative(k *kong.Context) error {
	onLine := map[*kong.Flag]bool{}
	for _, p := range k.Path {
		if p.Flag != nil && !p.Resolved {
			onLine[p.Flag] = true
		}
	}
	for _, f := range k.Flags() {
		why, refused := negativeRefused(reflect.ValueOf(k.FlagValue(f)), f.Help)
		if !refused {
			continue
		}
		if !onLine[f] {
			for _, e := range f.Tag.Envs {
				if _, set := os.LookupEnv(e); set {
					return fmt.Errorf("%s (--%s): %v is negative; %s", e, f.Name, k.FlagValue(f), why)
				}
			}
		}
		return fmt.Errorf("--%s: %v is negative; %s", f.Name, k.FlagValue(f), why)
	}
	return nil
}

// negativeRefused says whether v, a flag's value, is a negative number
// its help does not admit, and if so what the flag takes.
func negativeRefused(v reflect.Value, help string) (string, bool) {
	var neg, minusOne bool
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64: // time.Duration too
		neg, minusOne = v.Int() < 0, v.Int() == -1
	case reflect.Float32, reflect.Float64:
		neg, minusOne = v.Float() < 0, v.Float() == -1
	default:
		return "", false
	}
	switch {
	case !neg, strings.Contains(help, "negative"):
		return "", false
	case minusOne && strings.Contains(help, "-1"):
		return "", false
	}
	if strings.Contains(help, "-1") {
		return "it takes -1 or a value of 0 or more", true
	}
	return "it takes 0 or more", true
}
