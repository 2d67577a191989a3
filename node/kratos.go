package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/kratoshook"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
)

// KratosPath is where `riskgate serve` mounts the Ory Kratos hook.
const KratosPath = "/v1/kratos/login"

// EnvKratosToken is the variable the Kratos hook's token may come from.
const EnvKratosToken = "RISKGATE_KRATOS_TOKEN"

// KratosConfig is the Ory Kratos after-login web hook that serve mounts on
// the HTTP listener at POST /v1/kratos/login (api/kratoshook,
// deploy/kratos). It is on when a token is configured: the shared secret
// Kratos sends as "Authorization: Bearer <token>" (its web_hook's api_key
// auth), its own, never the scoring or admin token.
type KratosConfig struct {
	TokenFile string `help:"File holding the token Ory Kratos sends to the login hook (POST /v1/kratos/login) as a bearer token; 16 bytes or more, not the scoring or admin token. Or set RISKGATE_KRATOS_TOKEN. Without one the hook is not mounted." placeholder:"FILE"`
	Tenant    string `help:"Tenant of the logins the Kratos hook scores (one per Kratos project); empty: default."`
	StepUp    string `help:"What step_up does in Kratos: interrupt (refuse the password login with a message inviting another way in) or allow (let it through, for Kratos configured to require the second factor of users who have one; with --kratos-on-error step_up, errors then let logins in too: serve warns)." default:"interrupt" enum:"interrupt,allow"`
	OnError   string `help:"The Kratos hook's answer when riskgate cannot decide (a request the template does not fit, such as one without the address; a store outage is not one: the engine decides without state). step_up is what --kratos-step-up says: with allow, such logins get a session; choose deny there." default:"step_up" enum:"allow,step_up,deny"`
}

// KratosRoutes returns the route of the Kratos hook cfg.Kratos describes,
// for WithRoutes, or nil when no token is configured.
func KratosRoutes(cfg *Config, log *slog.Logger) (func(*service.Service) []httpapi.Route, error) {
	c := cfg.Kratos
	token, err := readSecret("--kratos-token-file", c.TokenFile, EnvKratosToken, minTokenLen)
	if err != nil || token == nil {
		return nil, err
	}
	admin, _ := readSecret("--admin-token-file", cfg.Auth.AdminTokenFile, "RISKGATE_ADMIN_TOKEN", 0)
	scoring, _ := readSecret("--scoring-token-file", cfg.Auth.ScoringTokenFile, "RISKGATE_SCORING_TOKEN", 0)
	if string(admin) == string(token) || string(scoring) == string(token) {
		return nil, errors.New("kratos: the hook's token must differ from the scoring and admin tokens")
	}
	policy := kratoshook.StepUpInterrupt
	switch c.StepUp {
	case "", "interrupt":
	case "allow":
		policy = kratoshook.StepUpAllow
	default:
		return nil, fmt.Errorf("kratos: step-up %q: want interrupt or allow", c.StepUp)
	}
	if log == nil {
		log = slog.Default()
	}
	opts := kratoshook.Options{Token: string(token), Tenant: c.Tenant, StepUp: policy, OnError: kratoshook.Action(c.OnError), Logger: log}
	// Check the options now, so that a bad one stops serve at start. The
	// hook made below warns of a risky combination (kratoshook.New); this
	// one stays quiet, so that it is said once.
	check := opts
	check.Logger = slog.New(slog.DiscardHandler)
	check.Scorer = kratoshook.ScorerFunc(func(context.Context, kratoshook.Attempt) (kratoshook.Verdict, error) {
		return kratoshook.Verdict{}, nil
	})
	if _, err := kratoshook.New(check); err != nil {
		return nil, err
	}
	log.Info("ory kratos hook mounted", "path", KratosPath, "step_up", c.StepUp, "on_error", c.OnError)
	return func(svc *service.Service) []httpapi.Route {
		o := opts
		o.Scorer = ServiceScorer(svc)
		h, _ := kratoshook.New(o) // checked above
		return []httpapi.Route{{Method: http.MethodPost, Path: KratosPath, Op: service.OpKratosLogin, Handler: h.ServeHTTP}}
	}, nil
}

// ServiceScorer scores the hook's logins in process, on the node's service:
// an attempt after a verified password (result password_ok).
func ServiceScorer(svc *service.Service) kratoshook.Scorer {
	return kratoshook.ScorerFunc(func(ctx context.Context, a kratoshook.Attempt) (kratoshook.Verdict, error) {
		ea := engine.Attempt{
			Tenant: a.Tenant, AttemptID: a.AttemptID, UserID: a.UserID, Username: a.Username, IP: a.IP,
			UserAgent: a.UserAgent, DeviceID: a.DeviceID, Channel: a.Channel, Attributes: a.Attributes,
			Result: engine.ResultPasswordOK,
		}
		if a.Country != "" {
			ea.Geo = &engine.GeoHint{Country: a.Country}
		}
		d, err := svc.Score(ctx, ea)
		if err != nil {
			return kratoshook.Verdict{}, fmt.Errorf("kratos: score: %w", err)
		}
		return kratoshook.Verdict{Action: kratoshook.Action(d.Action.String()), DecisionID: d.DecisionID}, nil
	})
}
