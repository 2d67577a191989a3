package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version may be set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the build info: the module's version when built
// with go install module@version, the commit when built from a checkout.
var version = ""

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println(versionString())
	return nil
}

// versionString is what `riskgate version` and `riskgate --version` print.
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return "riskgate " + describe(version, bi) + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// describe is the version of the binary: the one set at build time, else
// the main module's version (a tag, or a pseudo-version naming the
// commit), with the commit and its time when the build recorded them.
func describe(set string, bi *debug.BuildInfo) string {
	v := set
	var rev, at string
	modified := false
	if bi != nil {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if rev == "" {
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	var extra []string
	if !strings.Contains(v, rev) {
		extra = append(extra, "commit "+rev)
	}
	if at != "" {
		extra = append(extra, at)
	}
	if modified && !strings.HasSuffix(v, "+dirty") {
		extra = append(extra, "modified")
	}
	if len(extra) == 0 {
		return v
	}
	return v + " (" + strings.Join(extra, ", ") + ")"
}
