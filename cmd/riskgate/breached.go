package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/riskgate/riskgate/breached"
)

// breachedCmd groups the breached-password filter tools.
type breachedCmd struct {
	Build  breachedBuildCmd  `cmd:"" help:"Build a filter file from Have I Been Pwned SHA1:COUNT dumps and plain password lists (gzip allowed)."`
	Verify breachedVerifyCmd `cmd:"" help:"Check every checksum of a filter file (a full read) and print its header."`
	Info   breachedInfoCmd   `cmd:"" help:"Print a filter file's header without reading its body."`
}

type breachedBuildCmd struct {
	Out         string   `short:"o" required:"" type:"path" help:"Filter file to write (written to a temporary file, then renamed)."`
	FPR         float64  `name:"fpr" default:"1e-6" help:"Target false-positive rate of a Bloom filter. With --kind fuse, picks the narrowest fuse filter that meets it."`
	MinCount    uint64   `name:"min-count" default:"1" help:"Keep only hashes seen at least this many times (HIBP counts)."`
	Tiers       []uint64 `sep:"," help:"Increasing prevalence tiers, e.g. 1,100,10000: lookups then say which tier a hit is in."`
	Kind        string   `default:"bloom" enum:"bloom,fuse,fuse8,fuse16,fuse32" help:"Filter kind: bloom (can grow; any rate), fuse8/16/32 (static, rate 2^-bits, faster lookups), fuse (narrowest meeting --fpr)."`
	Expected    uint64   `placeholder:"N" help:"Entries to size a Bloom filter for; default: counted or estimated from the input size."`
	Format      string   `default:"auto" enum:"auto,hibp,plain" help:"Input form: hibp (SHA1HEX:COUNT), plain (one password per line) or auto (per file, from its first lines)."`
	PlainCount  uint64   `name:"plain-count" default:"1" help:"Prevalence count given to each plain-list entry."`
	Source      string   `help:"Source description stored in the header (default: the input file names)."`
	MaxReported int      `name:"max-reported" default:"10" help:"Malformed lines reported with file:line."`
	Inputs      []string `arg:"" type:"existingfile" name:"input" help:"Input files."`
}

func (c *breachedBuildCmd) Run(ctx context.Context) error {
	opt := breached.BuildOptions{
		FPR: c.FPR, MinCount: c.MinCount, Tiers: c.Tiers, Expected: c.Expected,
		PlainCount: c.PlainCount, Source: c.Source, MaxReported: c.MaxReported,
	}
	var err error
	if opt.Kind, err = breached.KindFor(c.Kind, c.FPR); err != nil {
		return err
	}
	format, err := breached.ParseFormat(c.Format)
	if err != nil {
		return err
	}
	inputs := make([]breached.Input, len(c.Inputs))
	for i, p := range c.Inputs {
		inputs[i] = breached.Input{Path: p, Format: format}
	}
	// Progress only on a terminal: in a pipeline or CI log, carriage-return
	// updates are noise.
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	if tty {
		opt.Progress = func(p breached.Progress) { printProgress(os.Stderr, p) }
	}
	res, err := breached.Build(ctx, c.Out, inputs, opt)
	if tty {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	printSummary(os.Stdout, c.Out, c.Inputs, res)
	return nil
}

func printProgress(w io.Writer, p breached.Progress) {
	pct := 0.0
	if p.BytesTotal > 0 {
		pct = 100 * float64(p.BytesRead) / float64(p.BytesTotal)
	}
	rate := float64(p.Lines) / max(p.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "\r\033[K%-9s %5.1f%% of input  %s lines  %s entries  %s lines/s  %s",
		p.Phase, pct, human(float64(p.Lines)), human(float64(p.Entries)), human(rate), p.Elapsed.Round(time.Second))
}

func printSummary(w io.Writer, out string, inputs []string, res *breached.Result) {
	in := res.Info
	for i, f := range res.Formats {
		fmt.Fprintf(w, "input %s: read as %s\n", inputs[i], f)
	}
	fmt.Fprintf(w, "wrote %s: %s filter, %d entries, %.2f bits/entry, expected false-positive rate %.3g (target %.3g), %s\n",
		out, in.Kind, in.Entries, in.BitsPerEntry, in.ExpectedFPR, in.TargetFPR, bytesHuman(in.Size))
	if in.Kind == breached.KindBloom && in.Entries > 0 {
		fmt.Fprintf(w, "  theory for a Bloom filter at the target: %.2f bits/entry\n", -math.Log2(in.TargetFPR)/math.Ln2)
	}
	if in.Tiered {
		for _, t := range in.Tiers {
			fmt.Fprintf(w, "  tier %d (seen >= %d times): %d entries, %s, expected FPR %.3g\n", t.Tier, t.MinCount, t.Entries, bytesHuman(int64(t.Bytes)), t.ExpectedFPR)
		}
	}
	fmt.Fprintf(w, "%d lines in %s (%s lines/s, %d pass(es)); %d below --min-count, %d empty, %d malformed\n",
		res.Lines, res.Elapsed.Round(time.Millisecond), human(float64(res.Lines)/res.Elapsed.Seconds()), res.Passes,
		res.BelowMinCount, res.Empty, res.Malformed)
	for _, e := range res.FirstMalformed {
		fmt.Fprintf(w, "  malformed: %s\n", e)
	}
	if n := res.Malformed - uint64(len(res.FirstMalformed)); res.Malformed > uint64(len(res.FirstMalformed)) {
		fmt.Fprintf(w, "  ... and %d more malformed lines\n", n)
	}
	if in.Kind == breached.KindBloom && in.ExpectedFPR > in.TargetFPR*1.01 {
		fmt.Fprintf(w, "warning: more entries than the filter was sized for; rebuild with --expected %d to meet the target rate\n", in.Entries)
	}
}

type breachedVerifyCmd struct {
	File string `arg:"" type:"existingfile" help:"Filter file."`
}

func (c *breachedVerifyCmd) Run() error {
	start := time.Now()
	info, err := breached.ReadInfo(c.File, true)
	if err != nil {
		return err
	}
	printInfo(os.Stdout, c.File, info)
	fmt.Printf("checksums: ok (%s)\n", time.Since(start).Round(time.Millisecond))
	return nil
}

type breachedInfoCmd struct {
	File string `arg:"" type:"existingfile" help:"Filter file."`
}

func (c *breachedInfoCmd) Run() error {
	info, err := breached.ReadInfo(c.File, false)
	if err != nil {
		return err
	}
	printInfo(os.Stdout, c.File, info)
	return nil
}

func printInfo(w io.Writer, path string, in breached.Info) {
	fmt.Fprintf(w, "file:          %s (%s)\n", path, bytesHuman(in.Size))
	fmt.Fprintf(w, "kind:          %s, format version %d\n", in.Kind, in.Version)
	fmt.Fprintf(w, "hash scheme:   %s\n", in.HashScheme)
	if in.Kind == breached.KindBloom {
		fmt.Fprintf(w, "bloom:         m=%d bits, k=%d\n", in.M, in.K)
	} else {
		fmt.Fprintf(w, "shards:        %d per tier\n", in.Shards)
	}
	fmt.Fprintf(w, "entries:       %d (%.2f bits/entry)\n", in.Entries, in.BitsPerEntry)
	fmt.Fprintf(w, "false pos.:    expected %.3g, target %.3g\n", in.ExpectedFPR, in.TargetFPR)
	minCount := "unknown"
	if in.MinCount > 0 {
		minCount = fmt.Sprint(in.MinCount)
	}
	fmt.Fprintf(w, "min count:     %s\n", minCount)
	fmt.Fprintf(w, "source:        %s\n", in.Source)
	fmt.Fprintf(w, "built:         %s\n", in.Built.Format(time.RFC3339))
	if in.Tiered {
		var parts []string
		for _, t := range in.Tiers {
			parts = append(parts, fmt.Sprintf("%d: >=%d (%d entries)", t.Tier, t.MinCount, t.Entries))
		}
		fmt.Fprintf(w, "tiers:         %s\n", strings.Join(parts, ", "))
	}
}

func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func bytesHuman(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
