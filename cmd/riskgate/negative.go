package main

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/alecthomas/kong"
)

// refuseNegative refuses a negative number, duration or size given to a
// flag (or its RISKGATE_* variable, or its key in the configuration file)
// whose help does not give negative values a meaning: kong parses them,
// and each setting would otherwise quietly take its default, or, for a
// bound such as --store-timeout, no bound at all. A help that says
// "negative" admits any; one that says "-1" admits -1 alone.
func refuseNegative(k *kong.Context) error {
	for _, f := range k.Flags() {
		v := reflect.ValueOf(k.FlagValue(f))
		var neg bool
		var minusOne bool
		switch v.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64: // time.Duration too
			neg, minusOne = v.Int() < 0, v.Int() == -1
		case reflect.Float32, reflect.Float64:
			neg, minusOne = v.Float() < 0, v.Float() == -1
		default:
			continue
		}
		switch {
		case !neg, strings.Contains(f.Help, "negative"):
		case minusOne && strings.Contains(f.Help, "-1"):
		default:
			return fmt.Errorf("--%s: %v is negative; %s", f.Name, k.FlagValue(f), allowedNegative(f.Help))
		}
	}
	return nil
}

func allowedNegative(help string) string {
	if strings.Contains(help, "-1") {
		return "it takes -1 or a value of 0 or more"
	}
	return "it takes 0 or more"
}
