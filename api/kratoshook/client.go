package kratoshook

import (
	"context"

	"github.com/riskgate/riskgate/api/client"
)

// ClientScorer scores through riskgate's Go client, for a hook that runs
// apart from riskgate (next to Kratos, say). The client's failover action
// answers when riskgate cannot.
func ClientScorer(c *client.Client) Scorer {
	return ScorerFunc(func(ctx context.Context, a Attempt) (Verdict, error) {
		ca := client.Attempt{
			Tenant: a.Tenant, AttemptID: a.AttemptID, UserID: a.UserID, Username: a.Username, IP: a.IP,
			UserAgent: a.UserAgent, DeviceID: a.DeviceID, Channel: a.Channel, Attributes: a.Attributes,
		}
		if a.Country != "" {
			ca.Geo = &client.GeoHint{Country: a.Country}
		}
		d, err := c.Score(ctx, ca, client.PasswordOK)
		return Verdict{Action: Action(d.Action.String()), DecisionID: d.DecisionID, Failover: d.Failover}, err
	})
}
