package httpapi

import (
	"net/http"
	"path/filepath"
	"time"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// promoteRequest is the JSON body of POST /v1/rules:promote and POST
// /v1/tenants/{tenant}/rules:promote.
type promoteRequest struct {
	RuleID    string `json:"rule_id"`
	IfVersion string `json:"if_version,omitempty"`

	ifMatch ifMatch // its If-Match header
}

func readPromote(w http.ResponseWriter, r *http.Request) (promoteRequest, error) {
	var req promoteRequest
	if err := decode(w, r, MaxAttemptBody, &req, "rule_id"); err != nil {
		return req, err
	}
	if req.RuleID == "" {
		return req, &engine.FieldError{Field: "rule_id", Msg: "required"}
	}
	m, err := parseIfMatch(r.Header)
	if err != nil {
		return req, err
	}
	if err := m.agrees(req.IfVersion); err != nil {
		return req, err
	}
	req.ifMatch = m
	return req, nil
}

func (a *API) promoteRule(w http.ResponseWriter, r *http.Request) {
	req, err := readPromote(w, r)
	if err != nil {
		a.failRequest(w, err)
		return
	}
	cond, err := req.ifMatch.check(req.IfVersion, a.rulesInForce, "ruleset")
	if err != nil {
		a.failRequest(w, err)
		return
	}
	s, err := a.Service.PromoteRule(cond.version, req.RuleID)
	if err != nil {
		a.changeFailed(w, err, cond, a.rulesInForce, "ruleset")
		return
	}
	w.Header().Set("ETag", `"`+s.Set.Version()+`"`)
	WriteJSON(w, http.StatusOK, newRulesetJSON(s))
}

// tenantRulesJSON is a tenant's rules: the ruleset its logins are decided
// by (version names the shared set and the overlay), and the overlay.
type tenantRulesJSON struct {
	Tenant        string         `json:"tenant"`
	Version       string         `json:"version"`
	SharedVersion string         `json:"shared_version"`
	Thresholds    thresholdsJSON `json:"thresholds"`
	Rules         []ruleJSON     `json:"rules"`
	Overlay       *overlayJSON   `json:"overlay"`
	// ReloadError is set while the last reload rejected the tenant's
	// overlay files: Overlay is then the last one that loaded (null if
	// none did) until they load.
	ReloadError *tenantReloadErrorJSON `json:"reload_error"`
}

type tenantReloadErrorJSON struct {
	Since  time.Time         `json:"since"`
	Errors []ruleProblemJSON `json:"errors"`
}

type overlayJSON struct {
	Version    string            `json:"version"`
	Origin     string            `json:"origin"`
	Files      []fileJSON        `json:"files"`
	Disabled   []string          `json:"disabled"`
	Thresholds *thresholdsJSON   `json:"thresholds,omitempty"`
	Problems   []ruleProblemJSON `json:"problems"`
}

// newTenantRulesJSON names files by their base names, and leaves out the
// overlay's folder: a tenant's admin needs no server paths.
func newTenantRulesJSON(t service.TenantRules) *tenantRulesJSON {
	th := t.Set.Thresholds()
	shared, _ := rules.SplitVersion(t.Set.Version())
	out := &tenantRulesJSON{
		Tenant: t.Tenant, Version: t.Set.Version(), SharedVersion: shared,
		Thresholds: thresholdsJSON{StepUp: th.StepUp, Deny: th.Deny}, Rules: []ruleJSON{},
	}
	for _, r := range t.Set.Rules() {
		out.Rules = append(out.Rules, ruleJSON{
			ID: r.ID, Description: r.Description, When: r.When, Action: r.Action, Score: r.Score,
			Mode: r.Mode.String(), Alert: r.Alert, Tags: r.Tags, File: filepath.Base(r.File), Line: r.Line,
			Locked: r.Locked,
		})
	}
	if o := t.Overlay; o != nil {
		ov := &overlayJSON{Version: o.Overlay.Version(), Origin: o.Origin,
			Files: []fileJSON{}, Disabled: o.Overlay.Disabled(), Problems: []ruleProblemJSON{}}
		if ov.Disabled == nil {
			ov.Disabled = []string{}
		}
		if th, ok := o.Overlay.Thresholds(); ok {
			ov.Thresholds = &thresholdsJSON{StepUp: th.StepUp, Deny: th.Deny}
		}
		for _, src := range o.Sources {
			ov.Files = append(ov.Files, fileJSON{Name: filepath.Base(src.Name), Content: string(src.Data)})
		}
		for _, p := range o.Problems {
			ov.Problems = append(ov.Problems, ruleProblemJSON{File: filepath.Base(p.File), Line: p.Line, Rule: p.Rule, Field: p.Field, Message: p.Err.Error()})
		}
		out.Overlay = ov
	}
	if f := t.Failure; f != nil {
		re := &tenantReloadErrorJSON{Since: f.Since.UTC(), Errors: []ruleProblemJSON{}}
		for _, p := range f.Problems() {
			re.Errors = append(re.Errors, ruleProblemJSON{File: p.File, Line: p.Line, Rule: p.Rule, Field: p.Field, Message: p.Err.Error()})
		}
		out.ReloadError = re
	}
	return out
}

func writeTenantRules(w http.ResponseWriter, t service.TenantRules) {
	etag := ""
	if t.Overlay != nil {
		etag = t.Overlay.Overlay.Version()
	}
	if etag != "" {
		w.Header().Set("ETag", `"`+etag+`"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, newTenantRulesJSON(t))
}

func (a *API) getTenantRules(w http.ResponseWriter, r *http.Request) {
	t, err := a.Service.TenantRules(r.PathValue("tenant"))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeTenantRules(w, t)
}

func (a *API) putTenantRules(w http.ResponseWriter, r *http.Request) {
	var req rulesRequest
	if !a.readPut(w, r, &req) {
		return
	}
	tenant := r.PathValue("tenant")
	current, what := a.overlayInForce(tenant), "overlay of tenant "+tenant
	cond, err := a.tenantCondition(req.ifMatch, req.IfVersion, tenant, current, what)
	if err != nil {
		a.failRequest(w, err)
		return
	}
	t, err := a.Service.PutTenantRules(tenant, cond.version, sources(req.Files))
	if err != nil {
		a.changeFailed(w, err, cond, current, what)
		return
	}
	writeTenantRules(w, t)
}

func (a *API) validateTenantRules(w http.ResponseWriter, r *http.Request) {
	var req rulesRequest
	if err := readRules(w, r, &req); err != nil {
		a.failRequest(w, err)
		return
	}
	if err := onlyFiles(&req); err != nil {
		a.fail(w, err)
		return
	}
	v, err := a.Service.ValidateTenantRules(r.PathValue("tenant"), sources(req.Files))
	switch {
	case err != nil:
		a.fail(w, err)
	case !v.Valid():
		WriteJSON(w, http.StatusOK, validateJSON{Errors: problemsJSON(v.Problems)})
	default:
		WriteJSON(w, http.StatusOK, validateJSON{Valid: true, Version: v.Set.Version(), RuleCount: len(v.Set.Rules()), Errors: []ruleProblemJSON{}})
	}
}

func (a *API) promoteTenantRule(w http.ResponseWriter, r *http.Request) {
	req, err := readPromote(w, r)
	if err != nil {
		a.failRequest(w, err)
		return
	}
	tenant := r.PathValue("tenant")
	current, what := a.overlayInForce(tenant), "overlay of tenant "+tenant
	cond, err := a.tenantCondition(req.ifMatch, req.IfVersion, tenant, current, what)
	if err != nil {
		a.failRequest(w, err)
		return
	}
	t, err := a.Service.PromoteTenantRule(tenant, cond.version, req.RuleID)
	if err != nil {
		a.changeFailed(w, err, cond, current, what)
		return
	}
	writeTenantRules(w, t)
}

// tenantCondition is m.check for a change of tenant's overlay, after the
// tenant's name: a bad one is the 400 naming it, not a 412.
func (a *API) tenantCondition(m ifMatch, ifVersion, tenant string, current inForce, what string) (precondition, error) {
	if m.present {
		if _, err := a.Service.TenantRules(tenant); err != nil {
			return precondition{}, err
		}
	}
	return m.check(ifVersion, current, what)
}
