package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

// The README's shell examples are run against a real server built from
// the tree, so that the README cannot drift (issue 10 item 18).
//
// An example is a ```sh block of "$ command" lines, each followed by the
// output it shows. Blocks whose commands are all curl, grpcurl, cat and
// export run, in order, against one `riskgate serve` (memory store,
// built-in rules in a folder, admin token from the README's export
// TOKEN=...); localhost:8080 and localhost:9090 become its addresses;
// decision ids shown in an output stand for the real ones in later
// commands; `cat F` of a file that does not exist writes the output shown
// into F first. Blocks with other commands (riskgate, kcat, ...) are not
// run. The output is compared by shape: a JSON output's keys and value
// types (`{...}`, `,...` and "...": "..." in the README elide keys),
// HTTP status lines, grpcurl error codes, other outputs line by line.
//
// Markers, an HTML comment on the line just before the block's fence:
//
//	<!-- readme-test: skip (needs Kafka) -->   do not run the block
//	<!-- readme-test: before
//	$ curl ...                                 commands run first, unseen
//	-->
//
// grpcurl blocks are skipped when grpcurl is not installed, unless
// RISKGATE_REQUIRE_GRPCURL=1 (as in CI), which makes that a failure.

type readmeCmd struct {
	line     int
	cmd      string
	expected string
}

type readmeBlock struct {
	line   int
	skip   string
	before []readmeCmd
	cmds   []readmeCmd
}

var marker = regexp.MustCompile(`^<!-- readme-test: (skip|before)\b(.*)`)

// parseREADME finds the shell examples of a Markdown file.
func parseREADME(text string) []readmeBlock {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	var pendSkip string
	var pendBefore []readmeCmd
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := marker.FindStringSubmatch(l); m != nil {
			if m[1] == "skip" {
				pendSkip = strings.TrimSpace(strings.TrimSuffix(m[2], "-->"))
				if pendSkip == "" {
					pendSkip = "marked"
				}
				continue
			}
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "-->"); i++ {
				body = append(body, lines[i])
			}
			pendBefore = parseCommands(body, i)
			continue
		}
		if strings.HasPrefix(l, "```") {
			lang := strings.TrimPrefix(l, "```")
			start := i
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
				body = append(body, lines[i])
			}
			if lang == "sh" || lang == "console" || lang == "shell" {
				if cmds := parseCommands(body, start+2); len(cmds) > 0 {
					blocks = append(blocks, readmeBlock{line: start + 1, skip: pendSkip, before: pendBefore, cmds: cmds})
				}
			}
			pendSkip, pendBefore = "", nil
			continue
		}
		if strings.TrimSpace(l) != "" {
			pendSkip, pendBefore = "", nil
		}
	}
	return blocks
}

// parseCommands splits "$ command" lines (continued by a trailing
// backslash or an open quote) from the output that follows each.
func parseCommands(body []string, first int) []readmeCmd {
	var cmds []readmeCmd
	for i := 0; i < len(body); i++ {
		if !strings.HasPrefix(body[i], "$ ") {
			if len(cmds) > 0 {
				c := &cmds[len(cmds)-1]
				c.expected += body[i] + "\n"
			}
			continue
		}
		c := readmeCmd{line: first + i, cmd: strings.TrimPrefix(body[i], "$ ")}
		for (strings.HasSuffix(c.cmd, `\`) || strings.Count(c.cmd, "'")%2 == 1) && i+1 < len(body) {
			i++
			c.cmd += "\n" + body[i]
		}
		cmds = append(cmds, c)
	}
	for i := range cmds {
		cmds[i].expected = strings.TrimSpace(cmds[i].expected)
	}
	return cmds
}

func firstWord(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func TestREADMEExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseREADME(string(data))
	if len(blocks) < 3 {
		t.Fatalf("found %d shell examples in the README", len(blocks))
	}
	_, grpcErr := exec.LookPath("grpcurl")
	requireGrpcurl := os.Getenv("RISKGATE_REQUIRE_GRPCURL") == "1"

	token := "change-me-to-a-long-random-token"
	if m := regexp.MustCompile(`\$ export TOKEN=(\S+)`).FindSubmatch(data); m != nil {
		token = string(m[1])
	}
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	os.Mkdir(rulesDir, 0o755)
	os.WriteFile(filepath.Join(rulesDir, "rules.yaml"), rules.DefaultSource().Data, 0o644)
	bin := buildBinary(t)
	p := startBinary(t, bin, []string{"RISKGATE_ADMIN_TOKEN=" + token}, "--rules", rulesDir)

	env := map[string]string{}
	ids := map[string]string{} // a decision id the README shows → the real one
	run := func(t *testing.T, c readmeCmd, check bool) {
		t.Helper()
		cmd := strings.NewReplacer("localhost:8080", p.http, "localhost:9090", p.grpc).Replace(c.cmd)
		for shown, real := range ids {
			cmd = strings.ReplaceAll(cmd, shown, real)
		}
		switch firstWord(cmd) {
		case "export":
			kv, _, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(cmd, "export")), " ")
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
			return
		case "cat":
			f := filepath.Join(dir, strings.Fields(cmd)[1])
			if _, err := os.Stat(f); err != nil {
				os.WriteFile(f, []byte(c.expected+"\n"), 0o644)
			}
		}
		sh := exec.Command("bash", "-c", cmd)
		sh.Dir = dir
		sh.Env = os.Environ()
		for k, v := range env {
			sh.Env = append(sh.Env, k+"="+v)
		}
		out, err := sh.Output()
		if err != nil && !strings.HasPrefix(c.expected, "ERROR:") {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("README.md:%d: %s: %v\n%s%s", c.line, c.cmd, err, out, stderr)
		}
		if err != nil {
			out = append(out, err.(*exec.ExitError).Stderr...)
		}
		if !check || c.expected == "" {
			return
		}
		if problems := compareOutput(c.expected, string(out), ids); len(problems) > 0 {
			t.Errorf("README.md:%d: %s\nthe output shown differs from the real one:\n  %s\nreal output:\n%s", c.line, c.cmd, strings.Join(problems, "\n  "), out)
		}
	}
	ran := 0
	for _, b := range blocks {
		name := fmt.Sprintf("README.md:%d", b.line)
		var other []string
		usesGrpcurl := false
		for _, c := range append(slices.Clone(b.before), b.cmds...) {
			switch w := firstWord(c.cmd); w {
			case "curl", "cat", "export":
			case "grpcurl":
				usesGrpcurl = true
			default:
				other = append(other, w)
			}
		}
		switch {
		case b.skip != "":
			t.Logf("%s: skipped: %s", name, b.skip)
			continue
		case len(other) > 0:
			t.Logf("%s: not run: commands %v", name, other)
			continue
		case usesGrpcurl && grpcErr != nil:
			if requireGrpcurl {
				t.Errorf("%s needs grpcurl, which is not installed (go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest)", name)
			} else {
				t.Logf("%s: skipped: no grpcurl", name)
			}
			continue
		}
		ran++
		t.Run(name, func(t *testing.T) {
			for _, c := range b.before {
				run(t, c, false)
			}
			for _, c := range b.cmds {
				run(t, c, true)
			}
		})
	}
	if ran == 0 {
		t.Error("no README example ran")
	}
}

var (
	elidedObject = regexp.MustCompile(`\{\s*\.\.\.\s*\}`)
	elidedTail   = regexp.MustCompile(`,\s*\.\.\.\s*([}\]])`)
	statusLine   = regexp.MustCompile(`^HTTP/[\d.]+ (\d+)`)
)

// compareOutput compares the output the README shows with the real one
// by shape, and records the decision ids the README shows in ids.
func compareOutput(expected, actual string, ids map[string]string) []string {
	actual = strings.TrimSpace(actual)
	switch {
	case statusLine.MatchString(expected):
		want := statusLine.FindStringSubmatch(expected)[1]
		got := statusLine.FindStringSubmatch(actual)
		if got == nil || got[1] != want {
			return []string{fmt.Sprintf("want status %s", want)}
		}
		return nil
	case strings.HasPrefix(expected, "ERROR:"):
		want := codeLine(expected)
		if got := codeLine(actual); got != want {
			return []string{fmt.Sprintf("want %q, got %q", want, got)}
		}
		return nil
	case strings.HasPrefix(expected, "{") || strings.HasPrefix(expected, "["):
		norm := elidedObject.ReplaceAllString(expected, `{"...": "..."}`)
		norm = elidedTail.ReplaceAllString(norm, `, "...": "..."$1`)
		var exp, act any
		if err := json.Unmarshal([]byte(norm), &exp); err != nil {
			return []string{fmt.Sprintf("the README's output is not JSON (after elisions): %v", err)}
		}
		if err := json.Unmarshal([]byte(actual), &act); err != nil {
			return []string{fmt.Sprintf("the real output is not JSON: %v", err)}
		}
		var problems []string
		compareShape("$", exp, act, ids, &problems)
		return problems
	}
	want, got := lineSet(expected), lineSet(actual)
	if !slices.Equal(want, got) {
		return []string{fmt.Sprintf("want lines %q, got %q", want, got)}
	}
	return nil
}

func codeLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "Code:") {
			return l
		}
	}
	return ""
}

func lineSet(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// compareShape checks that act has exp's shape: the same keys (all of
// them unless exp elides some with "..."), values of the same types,
// arrays of the same length whose elements have the same shapes.
func compareShape(path string, exp, act any, ids map[string]string, problems *[]string) {
	if kind(exp) != kind(act) {
		*problems = append(*problems, fmt.Sprintf("%s: the README shows a %s, the server answers a %s", path, kind(exp), kind(act)))
		return
	}
	switch e := exp.(type) {
	case map[string]any:
		a := act.(map[string]any)
		_, elided := e["..."]
		for k, ev := range e {
			if k == "..." {
				continue
			}
			av, ok := a[k]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s.%s: shown in the README, not in the real output", path, k))
				continue
			}
			if s, ok := ev.(string); ok && (k == "decision_id" || k == "decisionId") {
				ids[s] = av.(string)
			}
			compareShape(path+"."+k, ev, av, ids, problems)
		}
		if !elided {
			for k := range a {
				if _, ok := e[k]; !ok {
					*problems = append(*problems, fmt.Sprintf("%s.%s: in the real output, not in the README", path, k))
				}
			}
		}
	case []any:
		a := act.([]any)
		if len(e) != len(a) {
			*problems = append(*problems, fmt.Sprintf("%s: the README shows %d elements, the server answers %d", path, len(e), len(a)))
		}
		for i := range min(len(e), len(a)) {
			compareShape(fmt.Sprintf("%s[%d]", path, i), e[i], a[i], ids, problems)
		}
	}
}
