package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

func (a *API) score(w http.ResponseWriter, r *http.Request) {
	if err := checkJSON(r); err != nil {
		a.failRequest(w, err)
		return
	}
	buf := bodyPool.Get().(*[]byte)
	data, err := readBodyPooled(w, r, MaxAttemptBody, buf)
	if err != nil {
		putBody(buf)
		a.failRequest(w, jsonError(err, MaxAttemptBody))
		return
	}
	// One pass over the usual body; anything else, and every error, is
	// the checked path's (wire.AttemptJSON.DecodeQuick).
	var j wire.AttemptJSON
	if !j.DecodeQuick(data) {
		// Through any, a value of its own (j stays on the stack).
		checked := new(wire.AttemptJSON)
		err := requireBody(data, "ip")
		if err == nil {
			err = decodeData(data, MaxAttemptBody, checked)
		}
		if err != nil {
			putBody(buf)
			a.failRequest(w, err)
			return
		}
		j = *checked
	}
	putBody(buf) // j holds copies
	at, err := j.Convert("")
	if err != nil {
		a.fail(w, err)
		return
	}
	var omit bool
	if r.URL.RawQuery != "" { // Query makes a map: only when there is a query
		q := r.URL.Query()
		if omit, err = boolParam(q, "omit_signals"); err == nil {
			at.BeforePassword, err = boolParam(q, "before_password")
		}
		if err != nil {
			a.fail(w, err)
			return
		}
	}
	var d engine.Decision // decided into (ScoreInto): 1.2 KB not copied at each return
	if err := a.Service.ScoreInto(r.Context(), &at, &d); err != nil {
		a.fail(w, err)
		return
	}
	if omit {
		d.Signals = engine.Env{} // omitzero: left out of the JSON
	}
	writeDecision(w, &d)
}

// boolParam reads a boolean query parameter (?omit_signals=,
// ?before_password=), checked before the attempt is scored (and counted):
// a value that is not a boolean ("yes") was once read as false, and the
// caller got the signals it had asked to leave out.
func boolParam(q url.Values, name string) (bool, error) {
	v, ok := q[name]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil || len(v) > 1 {
		return false, &engine.FieldError{Field: name, Msg: fmt.Sprintf("want one boolean (true or false, 1 or 0, t or f, in any case), once; got %.40q", strings.Join(v, ","))}
	}
	return b, nil
}

func (a *API) outcome(w http.ResponseWriter, r *http.Request) {
	var j wire.OutcomeJSON
	if err := decode(w, r, MaxAttemptBody, &j, "outcome"); err != nil {
		a.failRequest(w, err)
		return
	}
	o, err := j.Convert()
	if err != nil {
		a.fail(w, err)
		return
	}
	if err := a.Service.Report(r.Context(), o); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	tenant, user := r.PathValue("tenant"), r.PathValue("user")
	p, err := a.Service.Profile(r.Context(), tenant, user)
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		a.fail(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, newProfileJSON(tenant, user, &p))
}

func (a *API) forget(w http.ResponseWriter, r *http.Request) {
	if err := a.Service.Forget(r.Context(), r.PathValue("tenant"), r.PathValue("user")); err != nil {
		a.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) getRules(w http.ResponseWriter, r *http.Request) {
	s := a.Service.Rules()
	w.Header().Set("ETag", `"`+s.Set.Version()+`"`)
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusOK, newRulesetJSON(s))
}

// rulesRequest is the JSON body of PUT /v1/rules, POST /v1/rules:validate
// and POST /v1/rules:test.
type rulesRequest struct {
	Files     []fileJSON        `json:"files"`
	IfVersion string            `json:"if_version,omitempty"`
	Attempt   *wire.AttemptJSON `json:"attempt,omitempty"`

	ifMatch ifMatch // of a put: its If-Match header
}

// readRules reads the rule files of a request: JSON ({"files": [{"name",
// "content"}]}) or, for a single file, the YAML itself (Content-Type
// application/yaml), named by ?name= (default rules.yaml).
func readRules(w http.ResponseWriter, r *http.Request, req *rulesRequest) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); isYAML(mt) {
		data, err := readBody(w, r, rules.MaxFileSize)
		if err != nil {
			return jsonError(err, rules.MaxFileSize)
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "rules.yaml"
		}
		req.Files = []fileJSON{{Name: name, Content: string(data)}}
		return nil
	}
	if err := nameWithoutYAML(r); err != nil {
		return err
	}
	return decode(w, r, MaxRulesBody, req, "files")
}

// nameWithoutYAML refuses ?name= on a request whose body is not a YAML
// file: a JSON body names its files itself, and the name would be
// ignored.
func nameWithoutYAML(r *http.Request) error {
	if _, ok := r.URL.Query()["name"]; !ok {
		return nil
	}
	return &engine.FieldError{Field: "name", Msg: "names the file of a YAML body (Content-Type application/yaml); a JSON body names its files in files[].name"}
}

func isYAML(mt string) bool {
	return mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" || mt == "text/x-yaml"
}

// readPut reads the body of a put of rules (shared or a tenant's), with
// If-Match as HTTP's way to say if_version (the handler checks it: see
// ifMatch). On false it has answered.
func (a *API) readPut(w http.ResponseWriter, r *http.Request, req *rulesRequest) bool {
	if err := readRules(w, r, req); err != nil {
		a.failRequest(w, err)
		return false
	}
	if req.Attempt != nil {
		a.fail(w, &engine.FieldError{Field: "attempt", Msg: "not accepted here (see POST /v1/rules:test)"})
		return false
	}
	m, err := parseIfMatch(r.Header)
	if err != nil {
		a.failRequest(w, err)
		return false
	}
	if err := m.agrees(req.IfVersion); err != nil {
		a.fail(w, err)
		return false
	}
	req.ifMatch = m
	return true
}

// rulesInForce is the version of the shared ruleset in force, which
// there always is.
func (a *API) rulesInForce() (string, bool) { return a.Service.Rules().Set.Version(), true }

// overlayInForce is the version of tenant's overlay in force, if it has
// one.
func (a *API) overlayInForce(tenant string) inForce {
	return func() (string, bool) {
		t, err := a.Service.TenantRules(tenant)
		if err != nil || t.Overlay == nil {
			return "", false
		}
		return t.Overlay.Overlay.Version(), true
	}
}

func (a *API) putRules(w http.ResponseWriter, r *http.Request) {
	var req rulesRequest
	if !a.readPut(w, r, &req) {
		return
	}
	cond, err := req.ifMatch.check(req.IfVersion, a.rulesInForce, "ruleset")
	if err != nil {
		a.failRequest(w, err)
		return
	}
	s, err := a.Service.PutRules(cond.version, sources(req.Files))
	if err != nil {
		a.changeFailed(w, err, cond, a.rulesInForce, "ruleset")
		return
	}
	w.Header().Set("ETag", `"`+s.Set.Version()+`"`)
	WriteJSON(w, http.StatusOK, newRulesetJSON(s))
}

// onlyFiles refuses what a validation does not take, naming it as a 400
// names the offending field: it was "files: only files are accepted
// here", which named the one field that was right.
func onlyFiles(req *rulesRequest) error {
	switch {
	case req.Attempt != nil:
		return &engine.FieldError{Field: "attempt", Msg: "not accepted here (POST /v1/rules:test scores an attempt)"}
	case req.IfVersion != "":
		return &engine.FieldError{Field: "if_version", Msg: "not accepted here: a validation changes nothing"}
	}
	return nil
}

type validateJSON struct {
	Valid     bool              `json:"valid"`
	Version   string            `json:"version,omitempty"`
	RuleCount int               `json:"rule_count"`
	Errors    []ruleProblemJSON `json:"errors"`
}

func (a *API) validateRules(w http.ResponseWriter, r *http.Request) {
	var req rulesRequest
	if err := readRules(w, r, &req); err != nil {
		a.failRequest(w, err)
		return
	}
	if err := onlyFiles(&req); err != nil {
		a.fail(w, err)
		return
	}
	v, err := a.Service.ValidateRules(sources(req.Files))
	switch {
	case err != nil:
		a.fail(w, err)
	case !v.Valid():
		WriteJSON(w, http.StatusOK, validateJSON{Errors: problemsJSON(v.Problems)})
	default:
		WriteJSON(w, http.StatusOK, validateJSON{Valid: true, Version: v.Set.Version(), RuleCount: len(v.Set.Rules()), Errors: []ruleProblemJSON{}})
	}
}

type testJSON struct {
	Decision         *engine.Decision  `json:"decision"`
	Current          *engine.Decision  `json:"current"`
	DecisionFailures []ruleFailureJSON `json:"decision_failures,omitempty"`
	CurrentFailures  []ruleFailureJSON `json:"current_failures,omitempty"`
}

// ruleFailureJSON is a rule that failed at run time on the tested attempt.
type ruleFailureJSON struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func ruleFailuresJSON(errs []engine.RuleError) []ruleFailureJSON {
	var out []ruleFailureJSON
	for _, e := range errs {
		out = append(out, ruleFailureJSON{Rule: e.RuleID, Message: e.Err.Error()})
	}
	return out
}

func (a *API) testRules(w http.ResponseWriter, r *http.Request) {
	var req rulesRequest
	if err := decode(w, r, MaxRulesBody, &req, "attempt"); err != nil {
		a.failRequest(w, err)
		return
	}
	if req.Attempt == nil {
		a.fail(w, &engine.FieldError{Field: "attempt", Msg: "required"})
		return
	}
	at, err := req.Attempt.Convert("attempt.")
	if err != nil {
		a.fail(w, err)
		return
	}
	res, err := a.Service.TestRules(r.Context(), at, sources(req.Files))
	if err != nil {
		a.fail(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, testJSON{Decision: &res.Candidate, Current: &res.Current,
		DecisionFailures: ruleFailuresJSON(res.CandidateFailures), CurrentFailures: ruleFailuresJSON(res.CurrentFailures)})
}
