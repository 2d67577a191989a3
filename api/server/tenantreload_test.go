package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestTenantReloadErrorVisible: one tenant's overlay file broken on disk
// while another's is edited, through a real server and its file watch:
// the other tenant's edit decides its logins, the broken tenant's logins
// are decided by its last good overlay, and the rejection is where an
// operator looks: the tenant's rules view (HTTP and gRPC, with file:line
// and no server path), the stale gauge, and /readyz, which stays ready.
func TestTenantReloadErrorVisible(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken, "beta": betaToken}})
	write := func(tenant, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(ts.tenantsDir, tenant), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ts.tenantsDir, tenant, "rules.yaml"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type viewJSON struct {
		Overlay *struct {
			Version string `json:"version"`
		} `json:"overlay"`
		ReloadError *struct {
			Since  string `json:"since"`
			Errors []struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Message string `json:"message"`
			} `json:"errors"`
		} `json:"reload_error"`
	}
	view := func(tenant string) (viewJSON, string) {
		t.Helper()
		var raw json.RawMessage
		if code := httpDo(t, nil, "GET", ts.url("/v1/tenants/"+tenant+"/rules"), adminToken, nil, &raw); code != 200 {
			t.Fatalf("get %s: %d", tenant, code)
		}
		var v viewJSON
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return v, string(raw)
	}
	overlay := func(tenant string) string {
		v, _ := view(tenant)
		if v.Overlay == nil {
			return ""
		}
		return v.Overlay.Version
	}
	score := func(tenant string) string {
		t.Helper()
		var d decisionJSON
		body := map[string]any{"tenant": tenant, "ip": "81.2.69.160", "user_id": "u1"}
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", body, &d); code != 200 {
			t.Fatalf("score %s: %d", tenant, code)
		}
		return d.RulesVersion
	}

	write("acme", acmeOverlay)
	write("beta", "version: beta-1\ndisable: [scripted-client]\n")
	waitFor(t, "both overlays in force", func() bool {
		return strings.Contains(overlay("acme"), "@acme-1@") && strings.Contains(overlay("beta"), "@beta-1@")
	})
	// A misspelt field at line 6 of acme's file, and an edit of beta's.
	write("acme", strings.Replace(acmeOverlay, `attempt.attributes["app"]`, `attempt.atributes["app"]`, 1))
	write("beta", "version: beta-2\ndisable: [scripted-client]\n")
	waitFor(t, "beta's edit in force and acme's rejection reported", func() bool {
		v, _ := view("acme")
		return strings.Contains(overlay("beta"), "@beta-2@") && v.ReloadError != nil
	})
	if v := score("beta"); !strings.Contains(v, "tenant:beta@beta-2@") {
		t.Errorf("beta's login decided by %s, want its edit", v)
	}
	if v := score("acme"); !strings.Contains(v, "tenant:acme@acme-1@") {
		t.Errorf("acme's login decided by %s, want its last good overlay", v)
	}
	v, raw := view("acme")
	if v.Overlay == nil || !strings.Contains(v.Overlay.Version, "@acme-1@") {
		t.Errorf("acme's view: overlay %+v, want its last good one", v.Overlay)
	}
	if e := v.ReloadError.Errors; len(e) != 1 || e[0].File != "rules.yaml" || e[0].Line != 6 || !strings.Contains(e[0].Message, "atributes") || v.ReloadError.Since == "" {
		t.Errorf("acme's reload error: %+v", v.ReloadError)
	}
	if strings.Contains(raw, ts.tenantsDir) {
		t.Errorf("acme's view names the server's folder: %s", raw)
	}
	if b, _ := view("beta"); b.ReloadError != nil {
		t.Errorf("beta's view reports an error: %+v", b.ReloadError)
	}
	rc := pb.NewRulesServiceClient(ts.grpcConn(t))
	r, err := rc.GetTenant(withToken(context.Background(), acmeToken), &pb.GetTenantRulesRequest{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if re := r.GetReloadError(); re == nil || len(re.Errors) != 1 || re.Errors[0].File != "rules.yaml" || re.Errors[0].Line != 6 || re.Since == nil {
		t.Errorf("grpc GetTenant reload_error: %v", re)
	}
	if got := ts.metricValue(t, "riskgate_rules_tenant_overlay_stale", "tenant", "acme"); got != 1 {
		t.Errorf("riskgate_rules_tenant_overlay_stale{tenant=acme} = %v", got)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if code := httpDo(t, nil, "GET", ts.url("/readyz"), "", nil, &ready); code != 200 || !strings.Contains(ready.Checks["rules"], "1 tenant overlay(s) rejected") {
		t.Errorf("readyz: %d %+v", code, ready)
	}

	// Fixed: in force, and no longer reported.
	write("acme", strings.Replace(acmeOverlay, "acme-1", "acme-2", 1))
	waitFor(t, "acme's fix in force", func() bool {
		v, _ := view("acme")
		return v.Overlay != nil && strings.Contains(v.Overlay.Version, "@acme-2@") && v.ReloadError == nil
	})
	if got := ts.metricValue(t, "riskgate_rules_tenant_overlay_stale", "tenant", "acme"); got != 0 {
		t.Errorf("riskgate_rules_tenant_overlay_stale{tenant=acme} = %v after the fix", got)
	}

	// The whole tenants folder gone (a volume that failed to mount): the
	// overlays stay, and a put waits for the folder, answered 503, the
	// operator's to fix, not 500, and without the server's path.
	away := ts.tenantsDir + ".away"
	if err := os.Rename(ts.tenantsDir, away); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Rename(away, ts.tenantsDir) }()
	waitFor(t, "the missing tenants folder reported", func() bool {
		v, _ := view("acme")
		return v.ReloadError != nil && v.Overlay != nil
	})
	var refused struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	put := map[string]any{"files": []map[string]string{{"name": "rules.yaml", "content": strings.Replace(acmeOverlay, "acme-1", "acme-3", 1)}}}
	code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), acmeToken, put, &refused)
	if code != 503 || !strings.Contains(refused.Error.Message, "tenants folder") || strings.Contains(refused.Error.Message, ts.tenantsDir) {
		t.Errorf("a put while the tenants folder is gone: %d %+v, want 503 naming the tenants folder, not its path", code, refused.Error)
	}
	if _, err := os.Stat(ts.tenantsDir); err == nil {
		t.Error("the refused put made the tenants folder again")
	}
}
