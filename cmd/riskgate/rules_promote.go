package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/riskgate/riskgate/rules"
)

type rulesPromoteCmd struct {
	Rule         string   `arg:"" help:"The id of the shadow rule to enforce."`
	Server       string   `help:"A running riskgate's HTTP API (http://host:port): promote through its admin API (POST /v1/rules:promote). Without it, the rule files of --rules are edited, and a server watching them reloads them." placeholder:"URL"`
	TokenFile    string   `help:"With --server: file holding the admin token, or the tenant's admin token with --tenant (default: RISKGATE_ADMIN_TOKEN)." placeholder:"FILE"`
	Rules        []string `help:"Without --server: the rule files or folders to edit." placeholder:"PATH" sep:","`
	Tenant       *string  `help:"Promote a rule of this tenant's overlay (not empty: leave --tenant out for a shared rule)."`
	RulesTenants string   `help:"Without --server, with --tenant: the tenants' overlays folder (DIR/TENANT/*.yaml)." placeholder:"DIR"`
	IfVersion    string   `help:"Promote only if this is the version in force (the overlay's, with --tenant)." placeholder:"VERSION"`
}

// Validate refuses an empty --tenant (a script's unset variable would
// otherwise promote the shared rule, for every tenant) and the flags the
// chosen way of promoting would ignore.
func (c *rulesPromoteCmd) Validate() error {
	if c.Tenant != nil && *c.Tenant == "" {
		return errors.New("--tenant: empty; give the tenant's name, or leave --tenant out to promote a shared rule")
	}
	if c.Server != "" {
		if err := checkServer(c.Server); err != nil {
			return err
		}
		if len(c.Rules) > 0 {
			return errors.New("--rules: not with --server: the server promotes in its own rule files (give one or the other)")
		}
		if c.RulesTenants != "" {
			return errors.New("--rules-tenants: not with --server: the server promotes in its own overlays (give one or the other)")
		}
		return nil
	}
	if c.TokenFile != "" {
		return errors.New("--token-file: only with --server (the rule files are edited without a token)")
	}
	if c.RulesTenants != "" && c.Tenant == nil {
		return errors.New("--rules-tenants: only with --tenant (a shared rule is promoted in --rules)")
	}
	return nil
}

// checkServer refuses a --server that is no http:// or https:// URL of a
// host: one without a scheme is shown with http:// (127.0.0.1:8080 as
// http://127.0.0.1:8080), one of another scheme or without a host is
// said to be so (http:// as http://http:// was no help), and one with a
// query or a fragment is refused, as the API's paths are put after it
// (http://h:8080?a=b/v1/rules:promote is the route "/").
func checkServer(s string) error {
	scheme, _, hasScheme := strings.Cut(s, "://")
	u, err := url.Parse(s)
	switch {
	case !hasScheme:
		return fmt.Errorf("--server: %q is not a URL: include http:// or https:// (as http://%s)", s, strings.TrimPrefix(strings.TrimPrefix(s, "//"), "/"))
	case err != nil:
		return fmt.Errorf("--server: %q is not a URL: %v", s, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("--server: %q: want http:// or https://, not %s://", s, scheme)
	case u.Host == "":
		return fmt.Errorf("--server: %q: no host: want %s://host:port", s, u.Scheme)
	case strings.ContainsAny(s, "?#"):
		return fmt.Errorf("--server: %q: give the server's address alone, without %s", s, s[strings.IndexAny(s, "?#"):])
	}
	return nil
}

// tenant is --tenant's value, "" when it is not given (Validate refused
// an empty one).
func (c *rulesPromoteCmd) tenant() string {
	if c.Tenant == nil {
		return ""
	}
	return *c.Tenant
}

func (c *rulesPromoteCmd) Run() error {
	if c.Server != "" {
		return c.remote()
	}
	if len(c.Rules) == 0 {
		return errors.New("rules promote: give --server URL, or the rule files with --rules")
	}
	if c.tenant() != "" && c.RulesTenants == "" {
		return errors.New("rules promote: --tenant without --server needs --rules-tenants")
	}
	m, err := rules.NewManager(rules.Options{Paths: c.Rules, TenantsDir: c.RulesTenants, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if c.tenant() != "" {
		t, err := m.PromoteTenant(c.tenant(), c.IfVersion, c.Rule)
		if err != nil {
			return err
		}
		fmt.Printf("promoted %s in tenant %s: version %s, written to %s\n", c.Rule, c.tenant(), t.Set.Version(), t.PersistPath)
		return nil
	}
	s, err := m.Promote(c.IfVersion, c.Rule)
	if err != nil {
		return err
	}
	if s.PersistPath == "" {
		return fmt.Errorf("rules promote: the rules come from several paths: nothing was written (give one file or folder)")
	}
	fmt.Printf("promoted %s: version %s, written to %s\n", c.Rule, s.Set.Version(), s.PersistPath)
	return nil
}

// remote promotes through a server's admin API.
func (c *rulesPromoteCmd) remote() error {
	token := os.Getenv("RISKGATE_ADMIN_TOKEN")
	if c.TokenFile != "" {
		data, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return fmt.Errorf("rules promote: %w", err)
		}
		token = string(data)
	}
	token = strings.TrimSpace(token)
	path := "/v1/rules:promote"
	if c.tenant() != "" {
		path = "/v1/tenants/" + url.PathEscape(c.tenant()) + "/rules:promote"
	}
	body, _ := json.Marshal(map[string]string{"rule_id": c.Rule, "if_version": c.IfVersion})
	req, err := http.NewRequest("POST", strings.TrimRight(c.Server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rules promote: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("rules promote: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("rules promote: %s: %s", resp.Status, e.Error.Message)
		}
		return fmt.Errorf("rules promote: %s", resp.Status)
	}
	var out struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("rules promote: the server's answer: %w", err)
	}
	fmt.Printf("promoted %s: version %s\n", c.Rule, out.Version)
	return nil
}
