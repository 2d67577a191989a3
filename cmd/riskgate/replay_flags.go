package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/riskgate/riskgate/engine/replay"
)

// Validate refuses --rules with --captured-rules: the capture's own
// rules records would replace them at its first line. The message names
// RISKGATE_RULES too, which sets --rules without its being typed.
func (c *replayCmd) Validate() error {
	if c.CapturedRules && len(c.Rules) > 0 {
		return errors.New("--rules (or RISKGATE_RULES): not with --captured-rules, which replays under the capture's own rules (give one or the other)")
	}
	return nil
}

// gunzipStdin is standard input r decompressed when it is gzip (by its
// magic number, as replay.Open tells a file given with -i): `replay <
// capture.jsonl.gz` reads the capture, rather than its compressed bytes
// as no capture and no attempts.
func gunzipStdin(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("replay: standard input: %w", err)
	}
	if !replay.IsGzip(magic) {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("replay: standard input: %w", err)
	}
	return &stdinGzip{zr}, nil
}

// stdinGzip names standard input in its read errors (a truncated gzip).
type stdinGzip struct{ *gzip.Reader }

func (g *stdinGzip) Read(b []byte) (int, error) {
	n, err := g.Reader.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("standard input: %w", err)
	}
	return n, err
}

// needCapture returns r, every byte of it, once its first line (blank and
// # lines aside) is a capture header; otherwise an error: --captured-rules
// has no rules records to put in force in a stream that is not a capture,
// and the replay would run under the built-in rules without a word.
func needCapture(r io.Reader, name string) (io.Reader, error) {
	if name == "" || name == "-" {
		name = "standard input"
	}
	br := bufio.NewReader(r)
	var read bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		read.Write(line)
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			var head struct {
				Capture json.RawMessage `json:"capture"`
			}
			if json.Unmarshal(t, &head) != nil || len(head.Capture) == 0 || string(head.Capture) == "null" {
				return nil, fmt.Errorf("--captured-rules: %s is not a capture (its first line is no capture header): it holds no rules to replay under; give a capture file or folder, or leave --captured-rules out", name)
			}
			return io.MultiReader(&read, br), nil
		}
		if err == io.EOF {
			return nil, fmt.Errorf("--captured-rules: %s is empty, not a capture", name)
		}
		if err != nil {
			return nil, fmt.Errorf("replay: read: %w", err)
		}
	}
}
