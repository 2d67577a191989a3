package rules

import "os"

func readRepoFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
