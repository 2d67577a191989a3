package node

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/riskgate/riskgate/rules"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// readSecret is the one way secrets are read: from file when one is named
// (the setting flag names it), else from the environment variable env;
// surrounding white space (a trailing newline) is not part of the secret.
// It returns nil when neither is set, and an error naming the setting the
// secret came from, never the secret, when it cannot be read or is shorter
// than minLen bytes.
func readSecret(flag, file, env string, minLen int) ([]byte, error) {
	var v, src string
	switch {
	case file != "":
		// A pipe (<(vault read ...)) is fine; one with no writer reads
		// as empty instead of blocking the start for ever.
		data, err := filesnap.ReadSmall(file, 64<<10)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		v, src = string(data), flag+" "+file
	case os.Getenv(env) != "":
		v, src = os.Getenv(env), env
	default:
		return nil, nil
	}
	v = strings.TrimSpace(v)
	if len(v) < minLen {
		return nil, fmt.Errorf("%s: the secret is shorter than %d bytes", src, minLen)
	}
	return []byte(v), nil
}

// readTenantTokens reads the tenant admin tokens: one "TENANT TOKEN" per
// line, blank lines and # comments skipped. Errors name the file and line,
// never a token; a token shorter than minTokenLen, a tenant given twice, a
// token shared by two tenants or equal to the admin or scoring token is
// refused.
func readTenantTokens(file string, admin, scoring []byte) (map[string][]byte, error) {
	if file == "" {
		return nil, nil
	}
	data, err := filesnap.ReadSmall(file, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("--tenant-admin-tokens-file: %w", err)
	}
	out := map[string][]byte{}
	seen := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("auth: %s:%d: want \"TENANT TOKEN\"", file, n)
		}
		tenant, token := f[0], f[1]
		switch {
		case !rules.ValidTenant(tenant):
			return nil, fmt.Errorf("auth: %s:%d: tenant %.70q: want 1-64 letters, digits, '-', '_' or '.'", file, n, tenant)
		case len(token) < minTokenLen:
			return nil, fmt.Errorf("auth: %s:%d: the token of tenant %s is shorter than %d bytes", file, n, tenant, minTokenLen)
		case out[tenant] != nil:
			return nil, fmt.Errorf("auth: %s:%d: tenant %s given twice", file, n, tenant)
		case seen[token] != "":
			return nil, fmt.Errorf("auth: %s:%d: tenant %s has the token of tenant %s", file, n, tenant, seen[token])
		case token == string(admin) || token == string(scoring):
			return nil, fmt.Errorf("auth: %s:%d: the token of tenant %s is the admin or scoring token", file, n, tenant)
		}
		out[tenant], seen[token] = []byte(token), tenant
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--tenant-admin-tokens-file: %w", err)
	}
	return out, nil
}
