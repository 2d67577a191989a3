package service

import (
	"fmt"

	"github.com/riskgate/riskgate/api/auth"
)

// Op names one operation of the service. Every route and method a
// transport serves maps to an Op, and the Op alone says what a caller
// needs (Level): a transport looks the level up, it never declares one.
type Op uint8

// The operations. To add one: a constant here, its row in ops below, a
// method on Service, then the transports' routes or methods that map to it;
// api/server's TestEveryEndpointHasALevel fails until every route and gRPC
// method has its Op.
const (
	// OpScore decides on a login attempt.
	OpScore Op = iota + 1
	// OpReport takes the outcome of a decision.
	OpReport
	// OpProfile reads what is held on a user.
	OpProfile
	// OpForget erases a user.
	OpForget
	// OpRulesGet reads the ruleset in force.
	OpRulesGet
	// OpRulesPut replaces the ruleset in force.
	OpRulesPut
	// OpRulesValidate compiles a candidate ruleset.
	OpRulesValidate
	// OpRulesTest decides on an attempt with a candidate ruleset, changing
	// nothing.
	OpRulesTest
	// OpBacktest replays the capture the server holds through a candidate
	// ruleset and reports the difference.
	OpBacktest
	// OpProbe is the operational surface: liveness, readiness, metrics,
	// gRPC health and reflection.
	OpProbe
	// OpRulesPromote flips a shadow rule of the shared ruleset to enforce.
	OpRulesPromote
	// OpTenantRulesGet reads a tenant's overlay and the ruleset its logins
	// are decided by.
	OpTenantRulesGet
	// OpTenantRulesPut replaces a tenant's overlay.
	OpTenantRulesPut
	// OpTenantRulesValidate compiles a candidate overlay for a tenant.
	OpTenantRulesValidate
	// OpTenantRulesPromote flips a shadow rule of a tenant's overlay to
	// enforce.
	OpTenantRulesPromote
	// OpKratosLogin is the Ory Kratos after-login web hook (POST
	// /v1/kratos/login): it scores a login Kratos verified the password
	// of. Its handler checks the hook's own token (--kratos-token-file),
	// never the scoring or admin token.
	OpKratosLogin

	numOps
)

// ops is each operation's name and level: the one place authorisation is
// declared.
var ops = [numOps]struct {
	name  string
	level auth.Level
}{
	OpScore:         {"score", auth.Scoring},
	OpReport:        {"report", auth.Scoring},
	OpProfile:       {"profile", auth.Admin},
	OpForget:        {"forget", auth.Admin},
	OpRulesGet:      {"rules.get", auth.Admin},
	OpRulesPut:      {"rules.put", auth.Admin},
	OpRulesValidate: {"rules.validate", auth.Admin},
	OpRulesTest:     {"rules.test", auth.Admin},
	OpBacktest:      {"backtest", auth.Admin},
	OpProbe:         {"probe", auth.Public},
	OpRulesPromote:  {"rules.promote", auth.Admin},
	// A tenant's own admin token reaches these, for its tenant only: the
	// transports check the request's tenant (auth.CheckTenant).
	OpTenantRulesGet:      {"tenant_rules.get", auth.TenantAdmin},
	OpTenantRulesPut:      {"tenant_rules.put", auth.TenantAdmin},
	OpTenantRulesValidate: {"tenant_rules.validate", auth.TenantAdmin},
	OpTenantRulesPromote:  {"tenant_rules.promote", auth.TenantAdmin},
	OpKratosLogin:         {"kratos.login", auth.Hook},
}

// Valid reports whether o is one of the operations.
func (o Op) Valid() bool { return o > 0 && o < numOps }

// Level is what a caller needs to perform o. An invalid Op needs admin,
// so that a forgotten mapping fails closed.
func (o Op) Level() auth.Level {
	if !o.Valid() {
		return auth.Admin
	}
	return ops[o].level
}

func (o Op) String() string {
	if !o.Valid() {
		return fmt.Sprintf("op(%d)", uint8(o))
	}
	return ops[o].name
}

// Ops returns every operation.
func Ops() []Op {
	out := make([]Op, 0, numOps-1)
	for o := Op(1); o < numOps; o++ {
		out = append(out, o)
	}
	return out
}
