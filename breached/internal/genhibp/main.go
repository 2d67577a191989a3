// Command genhibp writes a synthetic Pwned Passwords download for
// benchmarks: by default a full-size folder of 1,048,576 range files, as
// `haveibeenpwned-downloader DIR -s false` writes it, with -lines hashes in
// all (the real set has about 900 million; see benchmarks/README.md).
//
//	go run ./breached/internal/genhibp -out /tmp/pwned -lines 90000000
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/riskgate/riskgate/breached/hibpgen"
)

func main() {
	out := flag.String("out", "", "folder to write (or file, with -single)")
	lines := flag.Int("lines", 90_000_000, "hash lines in all")
	ranges := flag.Int("ranges", 1<<20, "range files to write, from 00000.txt up")
	single := flag.Bool("single", false, "write one SHA1:COUNT file instead of a folder")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "genhibp: -out is required")
		os.Exit(2)
	}
	start := time.Now()
	o := hibpgen.Options{Ranges: *ranges, Lines: *lines, Seed: *seed, Plant: map[string]uint64{"hunter2": 50000, "Winter2026!": 3}}
	var err error
	if *single {
		err = hibpgen.WriteSingle(*out, o)
	} else {
		err = hibpgen.WriteFolder(*out, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genhibp:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d lines in %d ranges to %s in %s\n", *lines, *ranges, *out, time.Since(start).Round(time.Second))
}
