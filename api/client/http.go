package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// maxAnswer bounds what is read of an answer: a decision with signals is
// a few KiB.
const maxAnswer = 1 << 20

type httpTransport struct {
	scoreURL, beforeURL, outcomeURL string
	hc                              *http.Client
	token                           string
}

func newHTTPTransport(o Options) (*httpTransport, error) {
	base, err := url.Parse(strings.TrimSuffix(o.Target, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("client: Options.Target %q: not a URL with a host", o.Target)
	}
	if base.RawQuery != "" || base.ForceQuery || base.Fragment != "" {
		// The paths are appended to it: "http://h?x=1/v1/score" sends no
		// Score at all, and riskgate refuses query parameters it does
		// not take.
		return nil, fmt.Errorf("client: Options.Target %q: a base URL without a query or fragment", o.Target)
	}
	var hc *http.Client
	if o.HTTPClient != nil {
		c := *o.HTTPClient // the caller's client keeps its own redirect policy
		hc = &c
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = o.TLS
		tr.MaxIdleConnsPerHost = 64 // logins are concurrent; keep their connections
		hc = &http.Client{Transport: tr}
	}
	// riskgate never redirects. A redirect is something else answering at
	// Target (a load balancer sending http:// to https://, a moved host),
	// and following it sent the attempt, its password hash and, to the
	// same host on another port or scheme, the bearer token where it
	// pointed, https:// to http:// included; a 301 or 302 turned the POST
	// into a GET, whose 405 failed every login over as "rejected".
	hc.CheckRedirect = noRedirects
	scoreURL, beforeURL := base.String()+"/v1/score", base.String()+"/v1/score?before_password=true"
	if !o.Signals {
		scoreURL += "?omit_signals=true"
		beforeURL += "&omit_signals=true"
	}
	return &httpTransport{scoreURL: scoreURL, beforeURL: beforeURL, outcomeURL: base.String() + "/v1/outcome", hc: hc, token: o.Token}, nil
}

// attemptJSON is riskgate's JSON attempt.
type attemptJSON struct {
	Tenant       string            `json:"tenant,omitempty"`
	AttemptID    string            `json:"attempt_id,omitempty"`
	Time         string            `json:"time,omitempty"`
	UserID       string            `json:"user_id,omitempty"`
	Username     string            `json:"username,omitempty"`
	IP           string            `json:"ip"`
	UserAgent    string            `json:"user_agent,omitempty"`
	DeviceID     string            `json:"device_id,omitempty"`
	PasswordSHA1 string            `json:"password_sha1,omitempty"`
	Result       string            `json:"result"`
	Geo          *geoJSON          `json:"geo,omitempty"`
	Channel      string            `json:"channel,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
}

type geoJSON struct {
	Country string   `json:"country,omitempty"`
	Lat     *float64 `json:"lat,omitempty"`
	Lon     *float64 `json:"lon,omitempty"`
}

func attemptToJSON(a *pb.Attempt) *attemptJSON {
	j := &attemptJSON{
		Tenant: a.GetTenant(), AttemptID: a.GetAttemptId(), UserID: a.GetUserId(), Username: a.GetUsername(),
		IP: a.GetIp(), UserAgent: a.GetUserAgent(), DeviceID: a.GetDeviceId(), PasswordSHA1: a.GetPasswordSha1(),
		Result: Result(a.GetResult()).String(), Channel: a.GetChannel(), Attributes: a.GetAttributes(),
	}
	if t := a.GetTime(); t != nil {
		j.Time = t.AsTime().Format(time.RFC3339Nano)
	}
	if g := a.GetGeo(); g != nil {
		j.Geo = &geoJSON{Country: g.GetCountry(), Lat: g.Lat, Lon: g.Lon}
	}
	return j
}

// decisionJSON is riskgate's JSON decision.
type decisionJSON struct {
	DecisionID   string          `json:"decision_id"`
	AttemptID    string          `json:"attempt_id"`
	Tenant       string          `json:"tenant"`
	Time         time.Time       `json:"time"`
	Action       Action          `json:"action"`
	Score        int             `json:"score"`
	Reasons      []Reason        `json:"reasons"`
	Shadow       []Reason        `json:"shadow"`
	Alert        bool            `json:"alert"`
	Signals      json.RawMessage `json:"signals"`
	RulesVersion string          `json:"rules_version"`
	Notify       []string        `json:"notify"`
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func (t *httpTransport) score(ctx context.Context, req *pb.ScoreRequest) (*pb.Decision, error) {
	var j decisionJSON
	u := t.scoreURL
	if req.GetBeforePassword() {
		u = t.beforeURL
	}
	if err := t.post(ctx, u, attemptToJSON(req.GetAttempt()), &j); err != nil {
		return nil, err
	}
	d := &pb.Decision{
		DecisionId: j.DecisionID, AttemptId: j.AttemptID, Tenant: j.Tenant, Score: int32(j.Score),
		Alert: j.Alert, RulesVersion: j.RulesVersion, Action: actionToPB(j.Action), Notify: j.Notify,
		Reasons: reasonsToPB(j.Reasons), Shadow: reasonsToPB(j.Shadow),
	}
	if !j.Time.IsZero() {
		d.Time = timestamppb.New(j.Time)
	}
	if len(j.Signals) > 0 && !req.GetOmitSignals() {
		// The JSON signals use the rule language's names, which are the
		// protobuf field names; fields this client does not know yet are
		// skipped rather than refused.
		d.Signals = new(pb.Signals)
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(j.Signals, d.Signals); err != nil {
			return nil, &Error{Cause: CauseServerError, Msg: "reading the decision's signals: " + err.Error(), Err: err}
		}
	}
	return d, nil
}

func (t *httpTransport) report(ctx context.Context, req *pb.ReportRequest) error {
	body := map[string]any{"outcome": outcomeNames[req.GetOutcome()]}
	if req.GetTenant() != "" {
		body["tenant"] = req.GetTenant()
	}
	if req.GetDecisionId() != "" {
		body["decision_id"] = req.GetDecisionId()
	}
	if a := req.GetAttempt(); a != nil {
		body["attempt"] = attemptToJSON(a)
	}
	return t.post(ctx, t.outcomeURL, body, nil)
}

func (t *httpTransport) wake() {}

func (t *httpTransport) close() error {
	t.hc.CloseIdleConnections()
	return nil
}

// post sends body as JSON and decodes a 200 answer into out.
func (t *httpTransport) post(ctx context.Context, url string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return &Error{Cause: CauseRejected, Msg: "encoding the request: " + err.Error(), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return &Error{Cause: CauseRejected, Msg: err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	// Whether the request was written out: a try that failed before
	// cannot have reached riskgate (Report's retry reads it).
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
	}))
	resp, err := t.hc.Do(req)
	if err != nil {
		e := netError(err)
		e.notSent = e.notSent || !wrote.Load()
		return e
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 3 {
		// Not riskgate's answer, and not followed (noRedirects): nothing
		// reached riskgate, and sending it again would be redirected again.
		return &Error{
			Cause: CauseRejected, Code: "HTTP " + strconv.Itoa(resp.StatusCode), notSent: true,
			Msg: fmt.Sprintf("answered with a redirect to %s, which riskgate never sends: set Options.Target to the URL riskgate serves", redactLocation(resp.Header.Get("Location"))),
		}
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return netError(err)
	}
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(answer, out); err != nil {
			return &Error{Cause: CauseServerError, Code: "HTTP " + strconv.Itoa(resp.StatusCode), Msg: "reading the answer: " + err.Error(), Err: err}
		}
		return nil
	}
	return statusError(resp.StatusCode, answer)
}

// noRedirects is the HTTP client's CheckRedirect: a 3xx answer is the
// answer.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// redactLocation is a Location header fit for an error that is logged:
// quoted, without its user information, query and fragment, and short.
func redactLocation(loc string) string {
	if loc == "" {
		return "nowhere (no Location)"
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "an unreadable Location"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "redacted", false
	}
	u.Fragment, u.RawFragment = "", ""
	return fmt.Sprintf("%.200q", u.String())
}

// goPlainToTLS begins the answer of Go's HTTPS server to a plain-text
// request, and httpTLSHint is what the client says of it: "Bad Request"
// alone left an http:// Target for a riskgate serving TLS unexplained,
// every login failed over as refused.
var goPlainToTLS = []byte("Client sent an HTTP request to an HTTPS server")

const httpTLSHint = "the server speaks TLS: use an https:// Options.Target (Bad Request: Client sent an HTTP request to an HTTPS server)"

// statusError classifies an HTTP error answer, with riskgate's JSON error
// when there is one (a proxy in between may answer with anything).
func statusError(status int, body []byte) *Error {
	e := &Error{Code: "HTTP " + strconv.Itoa(status)}
	var j errorJSON
	if json.Unmarshal(body, &j) == nil && j.Error.Code != "" {
		// riskgate's own answer: it did nothing of the request. Its codes
		// are the gRPC codes in snake case, which upper-cased are the gRPC
		// transport's Code, but for the one the two spell differently.
		e.Code, e.Msg, e.Field, e.notSent = strings.ToUpper(j.Error.Code), j.Error.Message, j.Error.Field, true
		if e.Code == "CANCELED" {
			e.Code = "CANCELLED"
		}
	} else if status == http.StatusBadRequest && bytes.HasPrefix(body, goPlainToTLS) {
		// What Go's TLS listener (riskgate's) answers a plain-text
		// request: the gRPC transport says as much (tlsHint).
		e.Msg = httpTLSHint
	} else {
		e.Msg = http.StatusText(status)
	}
	switch {
	case status == http.StatusRequestEntityTooLarge:
		// A request too large, as gRPC's RESOURCE_EXHAUSTED "larger than":
		// the caller's to fix, never counted against riskgate's health.
		e.Cause = CauseRejected
	case status == http.StatusTooManyRequests:
		e.Cause = CauseOverloaded
	case status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout:
		e.Cause = CauseTimeout
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable:
		e.Cause, e.retry = CauseUnavailable, true
	case status >= 500:
		e.Cause = CauseServerError
	case status == 499:
		e.Cause = CauseCanceled
	default:
		e.Cause = CauseRejected
	}
	return e
}

// netError classifies a failure to exchange a request and its answer.
func netError(err error) *Error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{Cause: CauseTimeout, Msg: "no answer within the call's timeout", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Cause: CauseCanceled, Msg: err.Error(), Err: err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{Cause: CauseUnavailable, Msg: "connection refused", Err: err, retry: true, notSent: true}
	}
	return &Error{Cause: CauseUnavailable, Msg: err.Error(), Err: err, retry: true}
}

func actionToPB(a Action) pb.Action {
	switch a {
	case Allow:
		return pb.Action_ACTION_ALLOW
	case StepUp:
		return pb.Action_ACTION_STEP_UP
	case Deny:
		return pb.Action_ACTION_DENY
	}
	return pb.Action_ACTION_UNSPECIFIED
}

func reasonsToPB(rs []Reason) []*pb.Reason {
	if len(rs) == 0 {
		return nil
	}
	out := make([]*pb.Reason, len(rs))
	for i, r := range rs {
		out[i] = &pb.Reason{Rule: r.Rule, Action: actionToPB(r.Action), Score: int32(r.Score), Message: r.Message, Tags: r.Tags, Alert: r.Alert, Notify: r.Notify}
	}
	return out
}
