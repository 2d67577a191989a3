package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/node"
)

// refuseInputAsOutput refuses an output file (flag: its flag) that is the
// input, or a file in the input capture folder: creating the input would
// truncate what is about to be read, and a file new in the folder becomes
// part of it (a report named capture-*.jsonl was read as a damaged
// capture by every later replay, backtest and the server's backtest API).
// It is checked before anything is created. Standard input and output
// ("" or "-") are never the same.
func refuseInputAsOutput(in, flag, out string) error {
	if in == "" || in == "-" || out == "" || out == "-" {
		return nil
	}
	ifi, err := os.Stat(in)
	if err != nil {
		return nil // Open reports it
	}
	// The capture folder the input is, or the input's, when it is one of
	// its files (-i DIR/capture-....jsonl.gz).
	capDir := ""
	if ifi.IsDir() {
		capDir = in
	} else if ok, _ := filepath.Match(replay.CaptureFilePattern, filepath.Base(in)); ok {
		capDir = filepath.Dir(in)
	}
	if capDir != "" {
		cfi, cerr := os.Stat(capDir)
		if dfi, err := os.Stat(filepath.Dir(out)); cerr == nil && err == nil && os.SameFile(cfi, dfi) {
			return fmt.Errorf("%s %s: is in the input capture folder (-i %s), which holds capture files only: write it elsewhere", flag, out, in)
		}
	}
	ofi, err := os.Stat(out)
	if err != nil {
		return nil // not there yet: it cannot be the input
	}
	inputs := []os.FileInfo{ifi}
	if ifi.IsDir() {
		files, err := replay.CaptureFiles(in)
		if err != nil {
			return err
		}
		inputs = inputs[:0]
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				inputs = append(inputs, fi)
			}
		}
	}
	for _, fi := range inputs {
		if os.SameFile(fi, ofi) {
			return fmt.Errorf("%s %s: is the input (-i %s), which writing it would truncate before it is read", flag, out, in)
		}
	}
	return nil
}

// refuseOverwritingInputs refuses an output file (flag: its flag) that is
// one of the other files the command reads (inputs, by flag: rule files
// and folders, data files), or a rule file (.yaml, .yml) in one of the
// folders it reads: `--rules cand.yaml --json cand.yaml` replaced the
// candidate rules with the report.
func refuseOverwritingInputs(flag, out string, inputs map[string][]string) error {
	if out == "" || out == "-" {
		return nil
	}
	ofi, err := os.Stat(out)
	if err != nil {
		return nil // not there yet: it cannot be an input
	}
	dfi, derr := os.Stat(filepath.Dir(out))
	ruleFile := strings.HasSuffix(out, ".yaml") || strings.HasSuffix(out, ".yml")
	for inFlag, paths := range inputs {
		for _, p := range paths {
			if p == "" {
				continue
			}
			ifi, err := os.Stat(p)
			if err != nil {
				continue // the command reports it
			}
			if os.SameFile(ifi, ofi) || ifi.IsDir() && ruleFile && derr == nil && os.SameFile(ifi, dfi) {
				return fmt.Errorf("%s %s: is read as %s %s, which writing it would overwrite", flag, out, inFlag, p)
			}
		}
	}
	return nil
}

// dataInputs are the data files an engine configuration reads, by flag.
func dataInputs(c node.EngineConfig) map[string][]string {
	lists := make([]string, 0, len(c.GeoIP.IPLists))
	for _, f := range c.GeoIP.IPLists {
		lists = append(lists, f)
	}
	return map[string][]string{
		"--rules": c.Rules, "--breached": {c.Breached},
		"--geoip-city": c.GeoIP.City, "--geoip-asn": c.GeoIP.ASN, "--geoip-anonymous": c.GeoIP.Anonymous,
		"--ip-list": lists, "--tor-exits": {c.GeoIP.TorExits}, "--hosting-asns": {c.GeoIP.HostingASNs},
	}
}

// output is a file a command writes, by its flag; "-" is standard output.
type output struct{ flag, path string }

// refuseSharedOutputs refuses two outputs of one command that would write
// the same file, or both standard output, before anything is written:
// the second replaced the first without a word (`--json r --html r` left
// the HTML where CI read the JSON; `-o out --summary out`, the decisions
// lost), or the two were written one after the other into one stream.
// An output not given is "".
func refuseSharedOutputs(outs ...output) error {
	for i, a := range outs {
		for _, b := range outs[i+1:] {
			if a.path == "" || b.path == "" {
				continue
			}
			if a.path == "-" && b.path == "-" {
				return fmt.Errorf("%s and %s: both write to standard output: give one of them a file", a.flag, b.flag)
			}
			if a.path == "-" || b.path == "-" {
				continue
			}
			if sameFile(a.path, b.path) {
				return fmt.Errorf("%s %s and %s %s: the same file, which the second would overwrite: give each its own", a.flag, a.path, b.flag, b.path)
			}
		}
	}
	return nil
}

// sameFile reports whether two paths name one file: the same path, or
// the same file already there (a link, another spelling).
func sameFile(a, b string) bool {
	if pa, err := filepath.Abs(a); err == nil {
		if pb, err := filepath.Abs(b); err == nil && pa == pb {
			return true
		}
	}
	fa, ea := os.Stat(a)
	fb, eb := os.Stat(b)
	return ea == nil && eb == nil && os.SameFile(fa, fb)
}
