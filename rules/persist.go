package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// persist writes srcs (named with their paths) to path, the rule file or
// folder the rules are loaded from, so that what is on disk is what a put
// puts in force:
//
//  1. every file is written to a temporary file beside its target and
//     synced; if one fails, the temporaries are removed and nothing on disk
//     has changed;
//  2. each is renamed over its target (atomic per file);
//  3. in a folder, the rule files the new ruleset does not have are
//     removed, and so are the rule tests (*_test.yaml) whose rule_files
//     named one of them: they would fail on a file that is gone. Tests of
//     the folder as a whole, or of kept files, stay.
//
// It returns the rule tests it removed.
func persist(path string, srcs []Source) (removedTests []string, err error) {
	tmps := make([]string, 0, len(srcs))
	defer func() {
		for _, t := range tmps {
			os.Remove(t) // a no-op once renamed
		}
	}()
	for _, s := range srcs {
		tmp, err := writeTemp(s.Name, s.Data)
		if err != nil {
			return nil, fmt.Errorf("rules: write %s: %w", s.Name, err)
		}
		tmps = append(tmps, tmp)
	}
	for i, s := range srcs {
		if err := os.Rename(tmps[i], s.Name); err != nil {
			return nil, fmt.Errorf("rules: write %s: %w", s.Name, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, syncDir(filepath.Dir(path))
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	keep := map[string]bool{}
	for _, s := range srcs {
		keep[filepath.Base(s.Name)] = true
	}
	removed := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || keep[n] || !isRuleFile(n) {
			continue
		}
		if err := os.Remove(filepath.Join(path, n)); err != nil {
			return nil, fmt.Errorf("rules: remove %s: %w", n, err)
		}
		removed[n] = true
	}
	if len(removed) > 0 {
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || strings.HasPrefix(n, ".") || !IsTestFile(n) || !namesAny(filepath.Join(path, n), path, removed) {
				continue
			}
			if err := os.Remove(filepath.Join(path, n)); err != nil {
				return nil, fmt.Errorf("rules: remove %s: %w", n, err)
			}
			removedTests = append(removedTests, filepath.Join(path, n))
		}
	}
	return removedTests, syncDir(path)
}

// namesAny reports whether the rule test at test names in its rule_files
// one of the files of dir in names. A test that does not parse is left to
// its author.
func namesAny(test, dir string, names map[string]bool) bool {
	data, err := filesnap.ReadRegular(test, MaxFileSize)
	if err != nil {
		return false
	}
	var doc struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc) != nil {
		return false
	}
	for _, f := range doc.RuleFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		if filepath.Dir(filepath.Clean(f)) == filepath.Clean(dir) && names[filepath.Base(f)] {
			return true
		}
	}
	return false
}

// writeTemp writes data to a synced temporary file beside name, with
// name's permissions when it exists, and returns its path. The leading dot
// keeps it out of folder loads and watches that race with it.
func writeTemp(name string, data []byte) (string, error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(name); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(mode), tmp.Sync(), tmp.Close())
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// syncDir makes the folder's renames and removals durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("rules: sync %s: %w", dir, err)
	}
	return nil
}
