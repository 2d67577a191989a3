package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kong"
)

// Validate refuses --rules with --captured-rules: the capture's own
// rules records would replace them at its first line. RISKGATE_RULES,
// which sets --rules without its being typed (a deployment's
// environment, a container's), is set aside instead, and Run says so:
// the analyst asked for the capture's rules.
func (c *replayCmd) Validate(kctx *kong.Context) error {
	if !c.CapturedRules || len(c.Rules) == 0 {
		return nil
	}
	for _, p := range kctx.Path {
		if p.Flag != nil && p.Flag.Name == "rules" && !p.Resolved {
			return errors.New("--rules: not with --captured-rules, which replays under the capture's own rules (give one or the other)")
		}
	}
	c.Rules, c.envRulesSetAside = nil, true
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
