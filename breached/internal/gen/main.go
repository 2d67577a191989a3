// Command gen regenerates the embedded common-password filter
// (breached/data/common-passwords.rgbf) from the npm tarball of
// @zxcvbn-ts/language-common. It needs no network: fetch the tarball first
// (see breached/data/README.md), and it refuses any tarball but the pinned one.
// The output is reproducible byte for byte: the build time is fixed.
package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riskgate/riskgate/breached"
)

const (
	pkg       = "@zxcvbn-ts/language-common"
	version   = "4.1.3"
	tgzSHA256 = "bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9"
	member    = "package/src/passwords.json"
)

func main() {
	tgz := flag.String("tgz", "zxcvbn-ts-language-common-"+version+".tgz", "npm tarball of "+pkg+"@"+version)
	out := flag.String("out", "data/common-passwords.rgbf", "filter file to write")
	flag.Parse()
	if err := run(*tgz, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(tgz, out string) error {
	raw, err := os.ReadFile(tgz)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != tgzSHA256 {
		return fmt.Errorf("%s: sha256 %x, want %s (%s@%s)", tgz, sum, tgzSHA256, pkg, version)
	}
	passwords, err := readList(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", tgz, err)
	}
	// The builder reads files; the list goes through a private temporary one.
	tmp, err := os.CreateTemp("", "common-passwords-*.txt")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for _, p := range passwords {
		if p == "" || strings.ContainsAny(p, "\r\n") {
			return fmt.Errorf("entry %q cannot be written as one line", p)
		}
		w.WriteString(p + "\n")
	}
	if err := errors.Join(w.Flush(), tmp.Close()); err != nil {
		return err
	}
	res, err := breached.Build(context.Background(), out, []breached.Input{{Path: tmp.Name(), Format: breached.FormatPlain}}, breached.BuildOptions{
		Kind:      breached.KindBloom,
		FPR:       breached.DefaultFPR,
		Source:    fmt.Sprintf("%s@%s %s (MIT): %d most common passwords", pkg, version, member, len(passwords)),
		BuildTime: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d entries, %.1f bits/entry, %d bytes\n", filepath.Base(out), res.Entries, res.Info.BitsPerEntry, res.Info.Size)
	return nil
}

func readList(tgz []byte) ([]string, error) {
	zr, err := gzip.NewReader(strings.NewReader(string(tgz)))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("no %s in the tarball", member)
		}
		if err != nil {
			return nil, err
		}
		if h.Name != member {
			continue
		}
		var list []string
		if err := json.NewDecoder(tr).Decode(&list); err != nil {
			return nil, fmt.Errorf("%s: %w", member, err)
		}
		return list, nil
	}
}
