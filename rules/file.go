package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/filesnap"
	"github.com/riskgate/riskgate/internal/yamlerr"
)

// MaxFileSize bounds a rule file: a ruleset is a few kilobytes, and a
// megabyte is already absurd.
const MaxFileSize = 1 << 20

// Source is one rule file's content and the name used in messages.
type Source struct {
	Name string
	Data []byte
}

// fileDoc is the YAML document. Unknown keys are errors: a misspelt
// "acton:" must not silently become a rule without an action.
type fileDoc struct {
	Version    string         `yaml:"version"`
	Thresholds *thresholdsDoc `yaml:"thresholds"`
	Settings   settingsDoc    `yaml:"settings"`
	Rules      []ruleDoc      `yaml:"rules"`
	// Disable lists shared rules a tenant overlay turns off (overlay.go);
	// the shared ruleset refuses it.
	Disable []yaml.Node `yaml:"disable"`
	// versionLine is the line of the version: label, filled after
	// decoding.
	versionLine int
}

// labelOf checks doc's version: label against the one an earlier file of
// the same ruleset set (label, from file labelFrom): a ruleset has one
// label, so another one is refused at its line rather than the last file's
// winning unseen (and a file's rename changing the version in force). It
// returns the label and its file from now on.
func labelOf(src Source, doc *fileDoc, label, labelFrom string, errs *ErrorList) (string, string) {
	if doc.Version == "" {
		return label, labelFrom
	}
	if label != "" && label != doc.Version {
		*errs = append(*errs, fileError(src.Name, doc.versionLine, "version", "version: %.80q: the ruleset's label is already %q (in %s): set one label, in one file", doc.Version, label, labelFrom))
		return label, labelFrom
	}
	if label == "" {
		return doc.Version, src.Name
	}
	return label, labelFrom
}

type thresholdsDoc struct {
	StepUp *int `yaml:"step_up"`
	Deny   *int `yaml:"deny"`
	line   int  // of the thresholds: key, filled after decoding
}

type settingsDoc struct {
	// DefaultMode applies to rules of this file that do not say; "shadow"
	// trials a whole new file without enforcing it.
	DefaultMode string `yaml:"default_mode"`
}

type ruleDoc struct {
	ID          string          `yaml:"id"`
	Description string          `yaml:"description"`
	When        yaml.Node       `yaml:"when"`
	Reason      yaml.Node       `yaml:"reason"`
	Action      string          `yaml:"action"`
	Score       int             `yaml:"score"`
	Mode        string          `yaml:"mode"`
	Alert       bool            `yaml:"alert"`
	Notify      string          `yaml:"notify"`
	Tags        []string        `yaml:"tags"`
	Locked      bool            `yaml:"locked"` // a shared rule no tenant overlay may disable or replace (overlay.go)
	line        int             // of the rule's mapping, filled after decoding
	lines       map[string]int  // of each key's value, filled after decoding
	broken      map[string]bool // the keys whose values did not decode (decodeerr.go)
}

// lineOf is the line of the rule's key, or of the rule when it has no
// such key: an error about a rule's action points to its action: line.
func (d *ruleDoc) lineOf(key string) int {
	if l, ok := d.lines[key]; ok {
		return l
	}
	return d.line
}

// LoadFiles reads rule files and folders (every *.yaml and *.yml in them,
// skipping *_test.yaml rule tests) into sources, in a stable order.
func LoadFiles(paths ...string) ([]Source, error) {
	var srcs []Source
	var seen givenFiles
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		files := []string{p}
		if fi.IsDir() {
			files = nil
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("rules: %w", err)
			}
			for _, e := range entries {
				n := e.Name()
				if e.IsDir() || !isRuleFile(n) {
					continue
				}
				files = append(files, filepath.Join(p, n))
			}
			sort.Strings(files)
			if len(files) == 0 {
				return nil, fmt.Errorf("rules: %s: %w", p, errNoRuleFiles)
			}
		}
		for _, f := range files {
			if err := seen.add(f); err != nil {
				return nil, err
			}
			data, err := readLimited(f)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, Source{Name: f, Data: data})
		}
	}
	if len(srcs) == 0 {
		return nil, errors.New("rules: no rule files given")
	}
	return srcs, nil
}

// errNoRuleFiles is LoadFiles' error for a folder without rule files: for a
// tenant's folder, no overlay rather than an overlay that failed to load.
var errNoRuleFiles = errors.New("no *.yaml or *.yml rule files")

// isRuleFile reports whether a file of a rules folder holds rules: a
// *.yaml or *.yml that is neither hidden (an atomic writer's temporary
// file) nor a rule test.
func isRuleFile(name string) bool {
	return isYAML(name) && !strings.HasPrefix(name, ".") && !IsTestFile(name)
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// IsTestFile reports whether a file name is a rule test rather than rules.
func IsTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml")
}

// readLimited reads a rule file, refusing anything but a regular file
// without blocking on it (a FIFO among the rules would otherwise hang the
// load, and with it SIGHUP) and a file larger than MaxFileSize.
func readLimited(path string) ([]byte, error) {
	data, err := filesnap.ReadRegular(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return data, nil
}

// parse decodes one file into docs, reporting file:line for each problem.
// Decoding is strict: a misspelt "acton:" must not silently become a rule
// without an action. With errors it returns no doc, but when they are all
// in rules that did not decode (a value of the wrong type, an unknown
// key): then the doc comes with them, those rules marked broken, so that
// the errors of the others are reported too.
//
// The embedded default.yaml, which every start without rule files
// compiles, is not parsed: its parse is generated at build time
// (defaultdoc.go, kept equal to parseYAML's by TestDefaultDocGenerated)
// and taken for a file whose bytes are default.yaml's. YAML's parse was
// half of the built-in rules' compile (0.8 ms of 1.6, warm), which every
// start pays on its second core beside kong's model of serve's flags; a
// start without it is about 1.1 ms shorter (of 15-18, where faults are
// cheap).
func parse(src Source) (*fileDoc, ErrorList) {
	if doc, ok := generatedDoc(src.Data); ok {
		return doc, nil
	}
	return parseYAML(src)
}

// generatedDoc returns defaultDoc when data is the default.yaml it was
// generated from.
func generatedDoc(data []byte) (*fileDoc, bool) {
	if len(data) != defaultDocLen {
		return nil, false
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != defaultDocSum {
		return nil, false
	}
	return defaultDoc(), true
}

// parseYAML is parse from the file's YAML.
func parseYAML(src Source) (*fileDoc, ErrorList) {
	if len(bytes.TrimSpace(src.Data)) == 0 {
		return nil, ErrorList{fileError(src.Name, 0, "", "empty rule file")}
	}
	if len(src.Data) > MaxFileSize {
		return nil, ErrorList{fileError(src.Name, 0, "", "larger than %d bytes", MaxFileSize)}
	}
	var root yaml.Node
	docs := yaml.NewDecoder(bytes.NewReader(src.Data))
	if err := docs.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		// (EOF: comments only, refused below as no mapping.)
		return nil, yamlErrors(src.Name, src.Data, err)
	}
	// A second document ("---") would be dropped without a word by a
	// decode of the first: its rules would never apply.
	var next yaml.Node
	if err := docs.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlErrors(src.Name, src.Data, err)
		}
		return nil, ErrorList{fileError(src.Name, max(next.Line, 1), "", `a rule file holds one YAML document; this "---" starts a second, whose rules would be ignored: put them in the first, or in a file of their own`)}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, ErrorList{fileError(src.Name, max(root.Line, 1), "", "want a mapping with a rules: list")}
	}
	// Decode the tree already parsed rather than parsing the text a second
	// time (the parse is most of a ruleset's load at start). The tree's
	// decoder has no KnownFields, so the keys are checked on the tree; on
	// any doubt or error, the strict decoder of the text decides, so the
	// messages (and their order) are exactly those of a strict decode.
	var doc fileDoc
	m := root.Content[0]
	// A value of the wrong type or an unknown key inside rules only
	// (partial): the other rules are compiled too, for their errors.
	var partial bool
	var errs ErrorList
	if !knownKeys(m, fileDocType) || root.Decode(&doc) != nil {
		doc = fileDoc{}
		dec := yaml.NewDecoder(bytes.NewReader(src.Data))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil {
			errs = withoutRepeats(nil, yamlErrors(src.Name, src.Data, err))
			if partial = inRules(&doc, m, errs, err); !partial {
				return nil, errs
			}
		}
	}
	ferrs := fractions(src, m)
	if partial {
		// A fraction in a rule is a broken key of that rule, as a decode
		// error is; one the decoder refused already is not said twice.
		ferrs = withoutRepeats(errs, ferrs)
		partial = markBroken(&doc, ruleItems(m), ferrs)
	}
	errs = append(errs, ferrs...)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "thresholds" && doc.Thresholds != nil {
			doc.Thresholds.line = m.Content[i].Line
		}
		if v := m.Content[i+1]; m.Content[i].Value == "version" {
			doc.versionLine = v.Line
			if doc.Version != "" && !validLabel(doc.Version) {
				errs = append(errs, fileError(src.Name, v.Line, "version", "version: %.80q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", doc.Version))
				partial = false
			}
		}
	}
	if errs != nil && !partial {
		return nil, errs
	}
	// Attach each rule's line, for messages about the rule as a whole.
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "rules" && m.Content[i+1].Kind == yaml.SequenceNode {
			for j, item := range m.Content[i+1].Content {
				if j < len(doc.Rules) {
					doc.Rules[j].line = item.Line
					if item.Kind == yaml.MappingNode {
						doc.Rules[j].lines = make(map[string]int, len(item.Content)/2)
						for k := 0; k+1 < len(item.Content); k += 2 {
							doc.Rules[j].lines[item.Content[k].Value] = item.Content[k+1].Line
						}
					}
				}
			}
		}
	}
	return &doc, errs
}

// fractions refuses a fraction where a whole number is wanted (a rule's
// score:, the thresholds): the decoder would truncate it, 99.9 to 99 and
// -0.5 to 0, without a word.
func fractions(src Source, m *yaml.Node) ErrorList {
	var errs ErrorList
	check := func(rule, field string, v *yaml.Node) {
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!float" {
			e := fileError(src.Name, v.Line, field, "%s: want a whole number, got `%s`", field, v.Value)
			e.Rule = rule
			errs = append(errs, e)
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		switch {
		case k == "thresholds" && v.Kind == yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				check("", "thresholds."+v.Content[j].Value, v.Content[j+1])
			}
		case k == "rules" && v.Kind == yaml.SequenceNode:
			for _, item := range v.Content {
				if item.Kind != yaml.MappingNode {
					continue
				}
				var id string
				var score *yaml.Node
				for j := 0; j+1 < len(item.Content); j += 2 {
					switch item.Content[j].Value {
					case "id":
						id = item.Content[j+1].Value
					case "score":
						score = item.Content[j+1]
					}
				}
				if score != nil {
					check(id, "score", score)
				}
			}
		}
	}
	return errs
}

var (
	fileDocType       = reflect.TypeFor[fileDoc]()
	thresholdsDocType = reflect.TypeFor[thresholdsDoc]()
	settingsDocType   = reflect.TypeFor[settingsDoc]()
	ruleDocType       = reflect.TypeFor[ruleDoc]()
)

// knownKeys reports whether every key of mapping m, and of the mappings
// decoded into the structs below it, is a yaml-tagged field of struct t:
// what a KnownFields decoder would accept. It answers false on anything it
// does not model (aliases, merge keys, tagged or non-string keys), which
// sends parse to the strict decoder: false is always safe, true must only
// be said when the strict decoder would find no unknown field.
func knownKeys(m *yaml.Node, t reflect.Type) bool {
	switch m.Kind {
	case yaml.ScalarNode:
		// A null (or a wrong type, which the decode then refuses) has no keys.
		return true
	case yaml.MappingNode:
	default:
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return false
		}
		f, ok := yamlField(t, k.Value)
		if !ok {
			return false
		}
		var sub reflect.Type
		switch f.Type {
		case reflect.PointerTo(thresholdsDocType):
			sub = thresholdsDocType
		case settingsDocType:
			sub = settingsDocType
		case reflect.SliceOf(ruleDocType):
			switch v.Kind {
			case yaml.ScalarNode:
				continue
			case yaml.SequenceNode:
			default:
				return false
			}
			for _, item := range v.Content {
				if !knownKeys(item, ruleDocType) {
					return false
				}
			}
			continue
		}
		if sub == nil {
			if v.Kind == yaml.AliasNode {
				return false
			}
			continue
		}
		if !knownKeys(v, sub) {
			return false
		}
	}
	return true
}

// yamlField is the exported field of t whose yaml tag names key.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var yamlLine = lazyRegexp(`^(?:yaml: )?line (\d+): `)

// yamlErrors turns the YAML decoder's errors, which carry their line only in
// their text ("yaml: line 7: did not find expected key"), into Errors with
// the line as data; a type error lists several lines.
func yamlErrors(name string, data []byte, err error) ErrorList {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var l ErrorList
		for _, e := range te.Errors {
			l = append(l, yamlErrors(name, data, errors.New(e))...)
		}
		return l
	}
	if line, msg, ok := yamlerr.Line(data, err); ok {
		// A syntax error: its line as yaml's text gives it is 0-based,
		// or missing on the first line.
		return ErrorList{{File: name, Line: line, Field: keyOfLine(data, line), Err: errors.New(msg)}}
	}
	msg := err.Error()
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return ErrorList{{File: name, Line: line, Field: keyOfLine(data, line), Err: errors.New(yamlTypeMessage(msg[len(m[0]):], data, line))}}
	}
	return ErrorList{{File: name, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))}}
}

func parseAction(s string) (engine.Action, error) {
	if s == "" {
		return engine.ActionNone, nil
	}
	return engine.ParseAction(s)
}
