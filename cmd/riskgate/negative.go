package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// refuseNegative refuses a value given to a flag (or its RISKGATE_*
// variable, or its key in the configuration file) that its help does not
// admit (refusedValue): kong parses a negative number, duration or size,
// and each setting would otherwise quietly take its default, or, for a
// bound such as --store-timeout, no bound at all. The file's values are
// checked where it is read (loadConfig), so that they are named with its
// file and line; this names the variable when the value came from one,
// and the flag otherwise.
func refuseNegative(k *kong.Context) error {
	onLine := map[*kong.Flag]bool{}
	for _, p := range k.Path {
		if p.Flag != nil && !p.Resolved {
			onLine[p.Flag] = true
		}
	}
	for _, f := range k.Flags() {
		why, refused := refusedValue(reflect.ValueOf(k.FlagValue(f)), f.Help)
		if !refused {
			continue
		}
		if !onLine[f] {
			for _, e := range f.Tag.Envs {
				if _, set := os.LookupEnv(e); set {
					return fmt.Errorf("%s (--%s): %v %s", e, f.Name, k.FlagValue(f), why)
				}
			}
		}
		return fmt.Errorf("--%s: %v %s", f.Name, k.FlagValue(f), why)
	}
	return nil
}

// Shortest settings that make sense. A duration flag's positive value
// under minDuration is a unit written wrong (50us for 50ms): no bound,
// interval or hold of riskgate's is that short, and --store-timeout=1us
// decided every login without state, --shutdown-timeout=1us cut every
// request. A poll (a help saying "how often") under minPoll stats or
// re-reads its files without pause: --rules-poll=1ns read every rule
// file in a loop, a core's worth; the poll is the fallback of the file
// notifications, which see a change at once.
const (
	minDuration = time.Millisecond
	minPoll     = time.Second
)

// refusedValue says whether v, a flag's value, is one its help does not
// admit, and if so why, as the rest of a sentence naming the value: a
// negative number (a help that says "negative" admits any, one that says
// "-1" admits -1 alone), a positive duration under minDuration, or a
// poll under minPoll.
func refusedValue(v reflect.Value, help string) (string, bool) {
	var neg, minusOne bool
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64: // time.Duration too
		neg, minusOne = v.Int() < 0, v.Int() == -1
	case reflect.Float32, reflect.Float64:
		neg, minusOne = v.Float() < 0, v.Float() == -1
	default:
		return "", false
	}
	if d, ok := v.Interface().(time.Duration); ok && d > 0 {
		poll := strings.Contains(strings.ToLower(help), "how often")
		switch {
		case poll && d < minPoll:
			return "is under a second; a poll takes 1s or more (negative: never)", true
		case d < minDuration:
			return "is under a millisecond (a unit written wrong?); it takes 0, or 1ms or more", true
		}
	}
	switch {
	case !neg, strings.Contains(help, "negative"):
		return "", false
	case minusOne && strings.Contains(help, "-1"):
		return "", false
	}
	if strings.Contains(help, "-1") {
		return "is negative; it takes -1 or a value of 0 or more", true
	}
	return "is negative; it takes 0 or more", true
}
