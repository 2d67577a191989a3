package node

import (
	"fmt"
	"os"
	"strings"
)

// readSecret is the one way secrets are read: from file when one is named,
// else from the environment variable env; surrounding white space (a
// trailing newline) is not part of the secret. It returns nil when neither
// is set, and an error naming where the secret came from, never the secret,
// when it is shorter than minLen bytes.
func readSecret(what, file, env string, minLen int) ([]byte, error) {
	var v, src string
	switch {
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		v, src = string(data), file
	case os.Getenv(env) != "":
		v, src = os.Getenv(env), env
	default:
		return nil, nil
	}
	v = strings.TrimSpace(v)
	if len(v) < minLen {
		return nil, fmt.Errorf("%s: the secret in %s is shorter than %d bytes", what, src, minLen)
	}
	return []byte(v), nil
}
