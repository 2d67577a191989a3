package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// Defaults.
const (
	// DefaultTimeout bounds each call, retries included. riskgate decides
	// in microseconds; what takes longer is a network or a server in
	// trouble, and the login should not wait for it.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultMaxTries is how many times an idempotent call is sent at most.
	DefaultMaxTries = 2
	// DefaultBreakerFailures consecutive failed calls open the circuit.
	DefaultBreakerFailures = 5
	// DefaultBreakerOpenFor is how long an open circuit fails calls over
	// before letting one probe through.
	DefaultBreakerOpenFor = 5 * time.Second
)

// Options configure a Client. Target and Failover are required.
type Options struct {
	// Target is riskgate's gRPC address ("riskgate:9090",
	// "dns:///riskgate-grpc.prod.svc:9090" for a name over every replica,
	// such as a headless Kubernetes Service), or the base URL of its
	// HTTP/JSON API ("http://riskgate:8080", "https://..."), which selects
	// the HTTP transport. Over gRPC, calls are spread round robin over the
	// addresses the name resolves to, so a replica that is down or hangs
	// costs a share of the calls, not all of them.
	//
	// Without a port, gRPC dials 443.
	Target string
	// Failover is the action a login gets when riskgate cannot answer:
	// Allow (availability first), StepUp (ask for a second factor), or
	// Deny (security first). There is no default: it is the integrator's
	// choice to make.
	Failover Action
	// Timeout bounds each call, retries included. Default DefaultTimeout.
	Timeout time.Duration
	// Token is the scoring bearer token, when riskgate requires one.
	// Surrounding white space is dropped, as riskgate drops it from its
	// token files: a token read from a file usually ends in a newline.
	Token string
	// TLS secures the connection; nil is plain text (gRPC) or what the URL
	// says (HTTP: an https:// URL verifies riskgate against the system's
	// roots; an http:// URL with TLS set is refused, and so is TLS with
	// HTTPClient, whose transport is used as it is: put the configuration
	// in its Transport). Sending a Token in
	// plain text is only wise on loopback or inside an encrypted network.
	// A plain-text gRPC call to a server that speaks TLS fails over
	// (unavailable) with an error saying so, found by a TLS handshake the
	// client tries on that failure, at most every 30 seconds; an http://
	// Target answered by riskgate's TLS listener fails over (rejected)
	// with an error saying so too.
	TLS *tls.Config
	// Tenant is the tenant of attempts that name none.
	Tenant string
	// Signals asks riskgate to send the feature values with each decision.
	// Off by default: a login acts on the action and reasons, and the
	// answer is a tenth the size without them.
	Signals bool
	// MaxTries bounds the sends of an idempotent call whose try could not
	// reach riskgate. Default DefaultMaxTries; 1 disables retries.
	MaxTries int
	// Breaker configures the circuit breaker.
	Breaker BreakerOptions
	// Observer is told of every call and breaker change, for metrics (see
	// package clientprom). Optional.
	Observer Observer
	// Logger receives breaker changes and rate-limited failover warnings;
	// never attempt values. Default: slog.Default().
	Logger *slog.Logger
	// DialOptions are added to the gRPC connection's (interceptors,
	// keepalive, a custom resolver).
	DialOptions []grpc.DialOption
	// HTTPClient is used by the HTTP transport; its Timeout should be unset
	// or longer than Timeout. Default: a client with its own transport.
	// Redirects are never followed, whatever its CheckRedirect: riskgate
	// sends none, so a redirect is another server answering at Target,
	// and the call fails over (CauseRejected) naming where it pointed.
	HTTPClient *http.Client
}

// BreakerOptions configure the circuit breaker. Failures are timeouts,
// unreachable or overloaded servers and server errors; a refused request
// (a bad field, a request too large, a wrong token) means riskgate is up
// and counts as a success.
type BreakerOptions struct {
	// Failures is how many consecutive failed calls open the circuit: a
	// call counts once, whatever its retries (MaxTries). Default
	// DefaultBreakerFailures.
	Failures int
	// OpenFor is how long the circuit stays open before one probe call is
	// let through. Default DefaultBreakerOpenFor.
	OpenFor time.Duration
	// Disabled turns the breaker off: every call goes to the network.
	Disabled bool
}

// Client talks to riskgate. It is safe for concurrent use; make one per
// process and Close it at exit.
type Client struct {
	opts    Options
	t       transport
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	log     *slog.Logger
	stats   counters
	warn    rateLimiter
}

// transport is one of the two wire protocols. Errors are *Error.
type transport interface {
	score(ctx context.Context, req *pb.ScoreRequest) (*pb.Decision, error)
	report(ctx context.Context, req *pb.ReportRequest) error
	// wake ends any reconnection backoff: the breaker is about to probe.
	wake()
	close() error
}

// New makes a client. It does not wait for riskgate: a riskgate that is
// down at start-up is a failover like any other, not an error. The gRPC
// connection starts at once, so the first login does not pay for it.
func New(opts Options) (*Client, error) {
	if opts.Target == "" {
		return nil, errors.New("client: Options.Target: required (host:port for gRPC, http(s)://host:port for HTTP)")
	}
	switch opts.Failover {
	case Allow, StepUp, Deny:
	default:
		return nil, fmt.Errorf("client: Options.Failover: %v: choose Allow, StepUp or Deny", opts.Failover)
	}
	if opts.Timeout < 0 || opts.MaxTries < 0 || opts.Breaker.Failures < 0 || opts.Breaker.OpenFor < 0 {
		return nil, errors.New("client: Options: Timeout, MaxTries and Breaker values must not be negative")
	}
	// A newline a header cannot carry failed every call (gRPC INTERNAL,
	// an HTTP transport error retried), counted against riskgate's health
	// until the breaker opened: every login failed over, and the logs
	// blamed riskgate.
	opts.Token = strings.TrimSpace(opts.Token)
	if strings.ContainsFunc(opts.Token, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errors.New("client: Options.Token: holds a control character (a line break?), which no header can carry")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxTries == 0 {
		opts.MaxTries = DefaultMaxTries
	}
	if opts.Breaker.Failures == 0 {
		opts.Breaker.Failures = DefaultBreakerFailures
	}
	if opts.Breaker.OpenFor == 0 {
		opts.Breaker.OpenFor = DefaultBreakerOpenFor
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Client{opts: opts, log: opts.Logger.With("component", "riskgate-client")}
	var err error
	if strings.HasPrefix(opts.Target, "http://") && opts.TLS != nil {
		// The URL would win, silently: the token and the attempts would go
		// in clear to a riskgate the caller meant to reach over TLS.
		return nil, fmt.Errorf("client: Options.TLS: set, but Options.Target %q is plain http: use https://", opts.Target)
	}
	if strings.HasPrefix(opts.Target, "http://") || strings.HasPrefix(opts.Target, "https://") {
		if opts.TLS != nil && opts.HTTPClient != nil {
			// The caller's client dials with its own transport: TLS would
			// be dropped, silently, and a private CA or a client
			// certificate with it.
			return nil, errors.New("client: Options.TLS: set with Options.HTTPClient, whose transport is used as it is: set the TLS configuration in its Transport (http.Transport's TLSClientConfig), or leave HTTPClient unset")
		}
		c.t, err = newHTTPTransport(opts)
	} else {
		c.t, err = newGRPCTransport(opts)
	}
	if err != nil {
		return nil, err
	}
	if !opts.Breaker.Disabled {
		failures := uint32(opts.Breaker.Failures)
		c.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        "riskgate",
			Timeout:     opts.Breaker.OpenFor,
			ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
			IsExcluded:  func(err error) bool { return errors.Is(err, errNotCounted) },
			OnStateChange: func(_ string, from, to gobreaker.State) {
				c.breakerChanged(breakerState(from), breakerState(to))
			},
		})
	}
	return c, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.t.close() }

// BeforePassword scores an attempt before the password is checked (result
// unknown). Act on Deny at once: a credential-stuffing run is stopped
// before the password hash is computed, and the attacker learns nothing
// about the password. Allow and StepUp mean "go on and check the
// password", then score again with AfterPassword.
//
// The Decision is always usable: on any failure it is the failover, and
// the error says why (a *Error, a *FieldError, or the context's error).
func (c *Client) BeforePassword(ctx context.Context, a Attempt) (Decision, error) {
	return c.score(ctx, &a, suffixed(a.AttemptID, ":before"), ResultUnknown, true)
}

// AfterPassword scores an attempt once the password was checked: r is
// PasswordOK, PasswordBad or NoSuchUser. Its decision is the one the login
// acts on and reports the outcome of. A failed password that riskgate
// scored counts in the attack windows here. A failover decision's does
// not: riskgate never saw the attempt (Decision.AwaitsOutcome is true), and
// the failure counts only once reported with LoginFailed, which sends the
// attempt. Calling LoginFailed after every failed password is simplest: it
// sends nothing for a decision riskgate made.
func (c *Client) AfterPassword(ctx context.Context, a Attempt, r Result) (Decision, error) {
	if r != PasswordOK && r != PasswordBad && r != NoSuchUser {
		d := c.failover(CauseRejected, &a, ResultUnknown)
		c.scored(time.Now(), 0, &d)
		return d, &FieldError{Field: "result", Msg: fmt.Sprintf("%v: AfterPassword wants PasswordOK, PasswordBad or NoSuchUser", r)}
	}
	return c.score(ctx, &a, suffixed(a.AttemptID, ":after"), r, false)
}

// Score scores an attempt at a single point of the caller's choosing, with
// AttemptID as given (or generated). Prefer the two helpers above.
func (c *Client) Score(ctx context.Context, a Attempt, r Result) (Decision, error) {
	return c.score(ctx, &a, a.AttemptID, r, false)
}

func suffixed(id, suffix string) string {
	if id == "" {
		return ""
	}
	return id + suffix
}

// score scores a; before marks BeforePassword's Score, whose decision
// awaits no outcome (AfterPassword's does).
func (c *Client) score(ctx context.Context, a *Attempt, attemptID string, r Result, before bool) (Decision, error) {
	start := time.Now()
	bad := a.check()
	if bad == nil && len(attemptID) > maxIDLen {
		// BeforePassword and AfterPassword add their suffix to the
		// caller's id: riskgate would refuse the call, and every such
		// login failed over with an error naming no cause of the caller's.
		bad = &FieldError{Field: "attempt_id", Msg: fmt.Sprintf("%d bytes sent, at most %d: %d before the :before and :after that BeforePassword and AfterPassword add", len(attemptID), maxIDLen, maxIDLen-len(":before"))}
	}
	if bad != nil {
		d := c.failover(CauseRejected, a, r)
		d.before = before
		c.scored(start, 0, &d)
		return d, bad
	}
	if attemptID == "" {
		attemptID = newAttemptID(start)
	}
	tenant := a.Tenant
	if tenant == "" {
		tenant = c.opts.Tenant
	}
	req := &pb.ScoreRequest{Attempt: a.toPB(tenant, attemptID, r), OmitSignals: !c.opts.Signals, BeforePassword: before}
	var resp *pb.Decision
	tries, err := c.do(ctx, "score", true, func(ctx context.Context) error {
		var err error
		resp, err = c.t.score(ctx, req)
		return err
	})
	if err != nil {
		d := c.failover(err.Cause, a, r)
		d.AttemptID, d.Tenant, d.attempt, d.before = attemptID, tenant, req.Attempt, before
		c.scored(start, tries, &d)
		c.warnFailover("score", err)
		return d, err
	}
	d := decisionFromPB(resp)
	if d.Action == ActionNone {
		// An answer without an action is not one to act on.
		d = c.failover(CauseServerError, a, r)
		d.AttemptID, d.Tenant, d.attempt, d.before = attemptID, tenant, req.Attempt, before
		err = &Error{Op: "score", Cause: CauseServerError, Msg: "decision without an action"}
		c.scored(start, tries, &d)
		return d, err
	}
	d.result, d.before = r, before
	c.scored(start, tries, &d)
	return d, nil
}

// failover is the decision for when riskgate did not decide.
func (c *Client) failover(cause Cause, a *Attempt, r Result) Decision {
	return Decision{
		AttemptID: a.AttemptID, Tenant: a.Tenant, Time: time.Now().UTC(),
		Action: c.opts.Failover, Failover: true, Cause: cause, result: r,
	}
}
