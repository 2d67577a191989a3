package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
