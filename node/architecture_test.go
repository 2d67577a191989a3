package node_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/riskgate/riskgate"

// pkg is what go list says of a package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages runs go list in the module's root.
func listPackages(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
}

var tableRow = regexp.MustCompile("^\\| `([^`]+)` \\|")

// TestArchitectureMapIsCurrent: the package table of docs/architecture.md
// is exactly the module's packages, so the map cannot rot.
func TestArchitectureMapIsCurrent(t *testing.T) {
	f, err := os.Open("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var documented []string
	sc := bufio.NewScanner(f)
	inTable := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inTable = line == "## What each package owns"
		}
		if m := tableRow.FindStringSubmatch(line); inTable && m != nil {
			documented = append(documented, m[1])
		}
	}
	var listed []string
	for _, p := range listPackages(t, "./...") {
		listed = append(listed, rel(p.ImportPath))
	}
	slices.Sort(documented)
	slices.Sort(listed)
	for _, p := range listed {
		if !slices.Contains(documented, p) {
			t.Errorf("package %s is not in docs/architecture.md", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(listed, p) {
			t.Errorf("docs/architecture.md lists %s, which go list does not", p)
		}
	}
}

// TestNoTestHelperInTheBinary: nothing that exists for tests is linked
// into riskgate.
func TestNoTestHelperInTheBinary(t *testing.T) {
	helpers := []string{"internal/enginetest", "internal/redistest", "internal/promtooltest", "internal/fifotest", "internal/filetest", "internal/freeport", "engine/storetest", "api/client/clienttest"}
	for _, p := range listPackages(t, "./cmd/riskgate") {
		for _, d := range p.Deps {
			if slices.Contains(helpers, rel(d)) {
				t.Errorf("the binary links the test helper %s", rel(d))
			}
		}
	}
}

// TestNoUpwardImports: a package never imports from a folder whose own
// package depends on it (as the engine once imported signals/useragent,
// under signals, which imports the engine): folders read from the core
// outwards.
func TestNoUpwardImports(t *testing.T) {
	pkgs := listPackages(t, "-deps", "./...")
	deps := map[string][]string{}
	for _, p := range pkgs {
		if strings.HasPrefix(p.ImportPath, module) {
			deps[rel(p.ImportPath)] = p.Deps
		}
	}
	dependsOn := func(a, b string) bool { return slices.Contains(deps[a], module+"/"+b) }
	for p, ds := range deps {
		for _, d := range ds {
			if !strings.HasPrefix(d, module+"/") {
				continue
			}
			q := rel(d)
			for dir := path.Dir(q); dir != "." && dir != ""; dir = path.Dir(dir) {
				if _, isPkg := deps[dir]; !isPkg || dir == p || strings.HasPrefix(p, dir+"/") {
					continue
				}
				if dependsOn(dir, p) {
					t.Errorf("%s imports %s, under %s, which depends on %s", p, q, dir, p)
				}
			}
		}
	}
}

// TestNoCompiledProgramTracked: a program built in the checkout (go build
// in a command's folder names it after the folder) is never committed: it
// is megabytes in every clone's history, and stale the next commit.
func TestNoCompiledProgramTracked(t *testing.T) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	magic := [][]byte{[]byte("\x7fELF"), {0xcf, 0xfa, 0xed, 0xfe}, []byte("MZ")}
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		f, err := os.Open(path.Join("..", name))
		if err != nil {
			continue // deleted in the work tree
		}
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		for _, m := range magic {
			if n >= len(m) && string(head[:len(m)]) == string(m) {
				t.Errorf("%s is a compiled program: remove it (git rm --cached) and list it in .gitignore", name)
			}
		}
	}
}
