// Package kratoshook is an Ory Kratos web hook that puts riskgate in the
// password login: Kratos calls it after the password was verified and
// before the session is issued (selfservice.flows.login.after.password,
// a web_hook with can_interrupt), with the body that
// deploy/kratos/riskgate-login.jsonnet renders. The handler scores the
// login through a Scorer and answers:
//
//   - allow: 204, and Kratos issues the session;
//   - deny: 403 with a message in Kratos' error-message format, which
//     Kratos shows on the login form, and no session;
//   - step_up: what Options.StepUp says. The hook cannot ask for a second
//     factor itself: Kratos has no "ask for AAL2 now" answer for it, and an
//     interrupted login leaves no session to upgrade. StepUpInterrupt (the
//     default) refuses the password login with a message inviting another
//     way in (a one-time code by e-mail, a passkey); StepUpAllow lets it
//     through, for installations where Kratos already requires the second
//     factor of every user who has one (session.whoami.required_aal:
//     highest_available). A failover step_up (Options.OnError, the
//     client's failover) is then let through too: New warns of StepUpAllow
//     with OnError StepUp.
//
// A caller without the hook's token (401), a hook url with a query (400:
// the hook takes none) and a method other than POST (405, with Allow:
// POST; mounted by serve too) get Kratos' format with no message, on which
// Kratos fails the login with an error.
//
// `riskgate serve --kratos-token-file FILE` mounts the handler at POST
// /v1/kratos/login, scoring on its own service (node.KratosRoutes); the
// handler can also run apart, next to Kratos, with ClientScorer.
//
// Kratos runs the hook only for logins whose password was right: failed
// passwords never reach it, so riskgate's attack windows (stuffing, spraying,
// brute force) see nothing of them through this hook.
package kratoshook

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/api/wire"
)

// Action is riskgate's answer, by its JSON name.
type Action string

// Actions.
const (
	Allow  Action = "allow"
	StepUp Action = "step_up"
	Deny   Action = "deny"
)

// Attempt is the login as riskgate sees it. Its result is always
// password_ok: Kratos calls the hook only then.
type Attempt struct {
	Tenant string
	// AttemptID is "kratos:" + the flow id + ":" + the time the password
	// was verified: the same for Kratos' retries of one hook call, new for
	// every password submission.
	AttemptID  string
	UserID     string // the Kratos identity id
	Username   string
	IP         string
	UserAgent  string
	DeviceID   string
	Country    string            // ISO 3166-1 alpha-2, from Cloudflare's header through Kratos; may be empty
	Channel    string            // "web" for Kratos browser flows, "api" for API flows (native apps)
	Attributes map[string]string // kratos.aal and kratos.flow_type
}

// Verdict is what the Scorer decided.
type Verdict struct {
	Action Action
	// DecisionID is shown to the user as a support reference on a refusal.
	DecisionID string
	// Failover is true when riskgate could not decide and the scorer's
	// failover action stands in.
	Failover bool
}

// Scorer decides on a login: riskgate's client (ClientScorer), or, inside
// riskgate, its service layer.
type Scorer interface {
	ScoreLogin(ctx context.Context, a Attempt) (Verdict, error)
}

// ScorerFunc is a function as a Scorer.
type ScorerFunc func(ctx context.Context, a Attempt) (Verdict, error)

// ScoreLogin calls f.
func (f ScorerFunc) ScoreLogin(ctx context.Context, a Attempt) (Verdict, error) { return f(ctx, a) }

// StepUpPolicy is what a step_up does in Kratos.
type StepUpPolicy int

// Step-up policies.
const (
	// StepUpInterrupt refuses the password login with Options.StepUpMessage.
	StepUpInterrupt StepUpPolicy = iota
	// StepUpAllow lets it through; Kratos' required_aal decides whether a
	// second factor is asked.
	StepUpAllow
)

// Message is a message on Kratos' login form. Kratos shows Text, and UIs
// that translate look it up by ID.
type Message struct {
	ID   int
	Text string
}

// Default messages. Their ids are in the range of Kratos' login validation
// messages (4010000-), far above the ones Kratos uses.
var (
	DefaultDenyMessage   = Message{ID: 4019001, Text: "This sign-in was refused. If it is you, contact support."}
	DefaultStepUpMessage = Message{ID: 4019002, Text: "This sign-in needs more proof that it is you. Sign in with a code sent to your e-mail instead."}
	DefaultErrorMessage  = Message{ID: 4019003, Text: "Sign-in is not possible right now. Try again in a moment."}
)

// Options configure the hook.
type Options struct {
	// Scorer decides. Required.
	Scorer Scorer
	// Token is the shared secret Kratos sends as "Authorization: Bearer
	// <token>" (the web_hook's api_key auth). Required: without it anyone
	// who reaches the hook could teach riskgate a user's baseline.
	Token string
	// Tenant scopes the attempts (one per Kratos project).
	Tenant string
	// StepUp is what step_up does; StepUpInterrupt by default.
	StepUp StepUpPolicy
	// OnError is the action when the Scorer fails without a verdict or the
	// request is unreadable (a template that does not match this package,
	// a body without the address). Default StepUp. A deny for this reason
	// shows ErrorMessage ("try again in a moment"), not DenyMessage. With
	// StepUp: StepUpAllow, an OnError StepUp lets such logins in (New
	// warns): choose Deny there unless availability comes first. The
	// fields the person logging in controls (user agent, device id,
	// username) never make a request unreadable: the hook cleans them as
	// riskgate's client does (client.Attempt.Cleaned).
	OnError Action
	// Messages shown on the login form. Defaults above.
	DenyMessage, StepUpMessage, ErrorMessage Message
	// Logger; default slog.Default(). Never given the request's values
	// (of a query, which comes from Kratos' configuration, the parameters'
	// names only).
	Logger *slog.Logger
}

// Handler is the web hook.
type Handler struct {
	opts  Options
	token []byte
	log   *slog.Logger
}

// maxBody bounds the request. The template renders a few hundred bytes,
// but it carries the login request's User-Agent header, which the person
// logging in chooses and Kratos takes up to its header limit (1 MiB, Go's
// default): a body refused for its size would get the OnError answer, so an
// attacker could pick it with a long header. Only Kratos, holding the
// token, is read this far.
const maxBody = 4 << 20

// New makes the handler.
func New(o Options) (*Handler, error) {
	if o.Scorer == nil {
		return nil, errors.New("kratoshook: Options.Scorer: required")
	}
	if len(o.Token) < 16 {
		return nil, errors.New("kratoshook: Options.Token: required, at least 16 characters")
	}
	switch o.OnError {
	case "":
		o.OnError = StepUp
	case Allow, StepUp, Deny:
	default:
		return nil, fmt.Errorf("kratoshook: Options.OnError: %q: want allow, step_up or deny", o.OnError)
	}
	if o.StepUp != StepUpInterrupt && o.StepUp != StepUpAllow {
		return nil, fmt.Errorf("kratoshook: Options.StepUp: %d: want StepUpInterrupt or StepUpAllow", o.StepUp)
	}
	if o.DenyMessage.Text == "" {
		o.DenyMessage = DefaultDenyMessage
	}
	if o.StepUpMessage.Text == "" {
		o.StepUpMessage = DefaultStepUpMessage
	}
	if o.ErrorMessage.Text == "" {
		o.ErrorMessage = DefaultErrorMessage
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{opts: o, token: []byte("Bearer " + o.Token), log: o.Logger.With("component", "kratos-hook")}
	if o.StepUp == StepUpAllow && o.OnError == StepUp {
		h.log.Warn("kratos hook: step_up lets logins through (StepUpAllow) and errors answer step_up (OnError), so a login riskgate could not score, or a request the hook could not read, gets a session: set OnError (--kratos-on-error) to deny unless availability comes first")
	}
	return h, nil
}

// body is what deploy/kratos/riskgate-login.jsonnet renders. Fields the
// template adds later are ignored.
type body struct {
	FlowID          string `json:"flow_id"`
	FlowType        string `json:"flow_type"`
	AuthenticatedAt string `json:"authenticated_at"`
	IdentityID      string `json:"identity_id"`
	Username        string `json:"username"`
	IP              string `json:"ip"`
	UserAgent       string `json:"user_agent"`
	Location        string `json:"location"`
	DeviceID        string `json:"device_id"`
	AAL             string `json:"aal"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, noMessages)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), h.token) != 1 {
		// No messages: Kratos then fails the login with an error, which
		// is right for a hook it cannot authenticate to.
		h.log.Warn("kratos hook called without the right token", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusUnauthorized, noMessages)
		return
	}
	if r.URL.RawQuery != "" {
		// The web_hook's url in Kratos' configuration carries a query
		// (?tenant=acme, as if it chose the tenant): the hook takes
		// none, and would ignore it. Refused in Kratos' format with no
		// message, as a wrong token is: Kratos fails the login with an
		// error, which is right for a hook configured wrong. The log
		// names the parameters, for whoever fixes the configuration.
		h.log.Error("kratos hook called with a query: it takes no query parameters, remove them from the web_hook url in Kratos' configuration", "parameters", queryNames(r.URL.RawQuery))
		writeJSON(w, http.StatusBadRequest, noMessages)
		return
	}
	a, err := h.attempt(r)
	if err != nil {
		h.log.Error("kratos hook request unreadable: check the body template", "err", err)
		h.answer(w, Verdict{Action: h.opts.OnError, Failover: true})
		return
	}
	v, err := h.opts.Scorer.ScoreLogin(r.Context(), a)
	switch {
	case err != nil && v.Action == "":
		h.log.Warn("scoring failed", "err", err)
		v = Verdict{Action: h.opts.OnError, Failover: true}
	case err != nil:
		h.log.Debug("scored with a failover", "err", err)
	}
	h.answer(w, v)
}

// queryNames are the names of a query's parameters, for the log: at most
// 8, each quoted and cut to 64 bytes, as a query that does not parse is
// named as it came.
func queryNames(raw string) string {
	var names []string
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		if len(names) == 8 {
			names = append(names, "...")
			break
		}
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		names = append(names, fmt.Sprintf("%.64q", key))
	}
	return strings.Join(names, ", ")
}

// required are the fields of the body the hook cannot do without.
var required = []string{"flow_id", "identity_id", "ip"}

// attempt reads the body into an Attempt.
func (h *Handler) attempt(r *http.Request) (Attempt, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return Attempt{}, fmt.Errorf("kratoshook: body: %w", err)
	}
	if len(data) > maxBody {
		return Attempt{}, fmt.Errorf("kratoshook: body: larger than %d bytes", maxBody)
	}
	// Named as the API names an empty body's fields ("body: EOF" said
	// nothing of what the template should render).
	if err := wire.RequireBody(data, "body", required...); err != nil {
		return Attempt{}, fmt.Errorf("kratoshook: %w", err)
	}
	var b body
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&b); err != nil {
		return Attempt{}, fmt.Errorf("kratoshook: body: %w", err)
	}
	var missing []string
	if b.FlowID == "" {
		missing = append(missing, "flow_id")
	}
	if b.IdentityID == "" {
		missing = append(missing, "identity_id")
	}
	if len(missing) > 0 {
		// Named: "flow_id and identity_id are required" sent whoever
		// fixes the template looking for a field it renders.
		return Attempt{}, fmt.Errorf("kratoshook: body: %s: required", strings.Join(missing, " and "))
	}
	ip, err := clientIP(b.IP)
	if err != nil {
		return Attempt{}, err
	}
	// What the person logging in chose (the User-Agent header, the device
	// cookie, the identifier typed) is cleaned as riskgate does: a value
	// riskgate refused made the login an error, answered by OnError.
	c := client.Attempt{Username: b.Username, UserAgent: b.UserAgent, DeviceID: b.DeviceID}.Cleaned()
	a := Attempt{
		Tenant: h.opts.Tenant, AttemptID: "kratos:" + b.FlowID, UserID: b.IdentityID, Username: c.Username,
		IP: ip, UserAgent: c.UserAgent, DeviceID: c.DeviceID, Country: countryOf(b.Location), Channel: "web",
		Attributes: map[string]string{"kratos.flow_type": b.FlowType},
	}
	if b.AuthenticatedAt != "" {
		a.AttemptID += ":" + b.AuthenticatedAt
	}
	if b.FlowType == "api" {
		a.Channel = "api"
	}
	if b.AAL != "" {
		a.Attributes["kratos.aal"] = b.AAL
	}
	return a, nil
}

// clientIP reads Kratos' ip_address, which carries the connection's port
// when no proxy header named the client ("127.0.0.1:34308", "[::1]:443"),
// and then, for a link-local IPv6 client, the zone of the interface it
// came in on ("[fe80::1%eth0]:443"). The zone is dropped as the port is:
// it names Kratos' interface, nothing of the person, and riskgate refuses
// an address with one, which answered every such login with OnError.
func clientIP(s string) (string, error) {
	if s == "" {
		return "", errors.New("kratoshook: body: ip: empty (is session.devices in the template?)")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("").String(), nil
	}
	host, _, err := net.SplitHostPort(s)
	if err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("").String(), nil
		}
	}
	return "", fmt.Errorf("kratoshook: body: ip: not an address: %.64q", s)
}

// countryOf takes the country of Kratos' "City, CC" location.
func countryOf(location string) string {
	i := strings.LastIndexByte(location, ',')
	cc := strings.TrimSpace(location[i+1:])
	if len(cc) != 2 || cc == "XX" || cc == "T1" {
		return ""
	}
	for _, c := range cc {
		if c < 'A' || c > 'Z' {
			return ""
		}
	}
	return cc
}
