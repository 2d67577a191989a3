package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/riskgate/riskgate/breached"
)

// breachedCmd groups the breached-password filter tools.
type breachedCmd struct {
	Build  breachedBuildCmd  `cmd:"" help:"Build a filter file from Have I Been Pwned downloads (the downloader's folder or single file) and plain password lists (gzip allowed)."`
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
	Format      string   `default:"auto" enum:"auto,hibp,plain" help:"Input form: hibp (SHA1HEX:COUNT, or the downloader's SUFFIX:COUNT range files), plain (one password per line) or auto (per file, from its first lines; never plain for a file of hash lines)."`
	PlainCount  uint64   `name:"plain-count" default:"1" help:"Prevalence count given to each plain-list entry."`
	Source      string   `help:"Source description stored in the header (default: the input file names)."`
	MaxReported int      `name:"max-reported" default:"10" help:"Malformed lines reported with file:line."`
	MaxBad      float64  `name:"max-malformed" default:"0.001" help:"Largest share of malformed lines in any one input file; above it the build fails naming the file and its first bad line (1 accepts anything)."`
	Partial     bool     `help:"Accept a downloader folder with range files missing (an interrupted download)."`
	Inputs      []string `arg:"" type:"existingpath" name:"input" help:"Input files or folders: the downloader's folder (00000.txt … FFFFF.txt), its single file, password lists, or folders of lists."`
}

func (c *breachedBuildCmd) Run(ctx context.Context) error {
	opt := breached.BuildOptions{
		FPR: c.FPR, MinCount: c.MinCount, Tiers: c.Tiers, Expected: c.Expected,
		PlainCount: c.PlainCount, Source: c.Source, MaxReported: c.MaxReported,
		MaxMalformed: c.MaxBad, Partial: c.Partial,
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
	var bar *progressBar
	if term.IsTerminal(int(os.Stderr.Fd())) {
		bar = newProgressBar(os.Stderr)
		opt.Progress = bar.update
	}
	res, err := breached.Build(ctx, c.Out, inputs, opt)
	bar.close()
	if err != nil {
		return err
	}
	printSummary(os.Stdout, c.Out, c.Inputs, res)
	return nil
}

// progressBar draws a build's progress on a terminal: a bar over the input
// bytes of the current pass with its ETA, and lines read and lines/s.
type progressBar struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	phase string
	start time.Duration // of the phase, in the build's elapsed time
	last  time.Duration // of the previous update
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w} }

func (b *progressBar) update(p breached.Progress) {
	reading := p.Phase == "counting" || p.Phase == "inserting"
	defer func() { b.last = p.Elapsed }()
	if b.bar == nil || p.Phase != b.phase {
		if b.bar != nil {
			_ = b.bar.Finish()
			fmt.Fprintln(b.w)
		}
		b.phase, b.start = p.Phase, b.last
		opts := []progressbar.Option{progressbar.OptionSetWriter(b.w), progressbar.OptionSetElapsedTime(true),
			progressbar.OptionShowDescriptionAtLineEnd(), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200 * time.Millisecond), progressbar.OptionUseANSICodes(true)}
		total := int64(-1) // a spinner while the filter is built and written
		if reading {
			total = max(p.BytesTotal, 1)
			opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionSetPredictTime(true))
		}
		b.bar = progressbar.NewOptions64(total, opts...)
	}
	if !reading {
		b.bar.Describe(fmt.Sprintf("%s the filter of %s entries", p.Phase, human(float64(p.Entries))))
		_ = b.bar.Add(1)
		return
	}
	rate := float64(p.Lines) / max((p.Elapsed-b.start).Seconds(), 1e-9)
	b.bar.Describe(fmt.Sprintf("%-9s %s lines, %s lines/s", p.Phase, human(float64(p.Lines)), human(rate)))
	_ = b.bar.Set64(p.BytesRead)
}

func (b *progressBar) close() {
	if b != nil && b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(b.w)
	}
}

func printSummary(w io.Writer, out string, inputs []string, res *breached.Result) {
	in := res.Info
	for i, f := range res.Formats {
		fmt.Fprintf(w, "input %s: read as %s\n", inputs[i], f)
	}
	if res.Files > len(inputs) {
		fmt.Fprintf(w, "%d files read\n", res.Files)
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
	if res.Repeated > 0 {
		fmt.Fprintf(w, "  %d accepted lines were in the filter already (repeated hashes): counted once\n", res.Repeated)
	}
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
