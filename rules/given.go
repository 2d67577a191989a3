package rules

import (
	"fmt"
	"os"
)

// givenFiles are the files LoadFiles read so far, to refuse one given
// twice (a.yaml twice, or a.yaml beside its folder): its every rule
// would otherwise be a duplicate id, the file's fault hidden in as many
// errors.
type givenFiles []struct {
	name string
	fi   os.FileInfo
}

func (g *givenFiles) add(name string) error {
	fi, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	for _, f := range *g {
		if os.SameFile(f.fi, fi) {
			if f.name == name {
				return fmt.Errorf("rules: %s is given twice: give each file or folder once", name)
			}
			return fmt.Errorf("rules: %s is given twice (as %s and as %s): give each file or folder once", name, f.name, name)
		}
	}
	*g = append(*g, struct {
		name string
		fi   os.FileInfo
	}{name, fi})
	return nil
}
