package ruletest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// checkKind refuses a file that is no rule test at all, saying what it
// is: an empty one (the decoder's word was "EOF"), and a rule file given
// to rules test (its rules: and thresholds: were unknown keys).
func checkKind(data []byte) error {
	var root yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root)
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty (or comments only): a rule test file holds tests:, and rule_files: naming the rule files they test (default: those of its folder)")
	}
	if err != nil || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil // the strict decode reports it
	}
	m := root.Content[0]
	var rulesKey string
	for i := 0; i+1 < len(m.Content); i += 2 {
		switch k := m.Content[i].Value; k {
		case "tests", "rule_files":
			return nil
		case "rules", "thresholds":
			if rulesKey == "" {
				rulesKey = k
			}
		}
	}
	if rulesKey != "" {
		return fmt.Errorf("this looks like a rule file (it has %s:), not a rule test file: check rule files with riskgate rules check; rules test runs *_test.yaml files, whose rule_files: name the rule files they test", rulesKey)
	}
	return nil
}

// checkDoc refuses what a strict decode lets through: a second YAML
// document, whose tests would never run, and a fraction where a whole
// number belongs (repeat: 2.9 was taken as 2). Its error starts with the
// line.
func checkDoc(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root, next yaml.Node
	if err := dec.Decode(&root); err != nil {
		return nil // the strict decode reports it
	}
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := 1
		if err == nil {
			line = max(next.Line, 1)
		}
		return fmt.Errorf("%d: a test file holds one YAML document; this \"---\" starts a second, whose tests would never run", line)
	}
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				switch k.Value {
				case "repeat", "min_score", "max_score":
					if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!float" {
						return fmt.Errorf("%d: %s: want a whole number, got `%s`", v.Line, k.Value, v.Value)
					}
				}
			}
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(&root)
}
