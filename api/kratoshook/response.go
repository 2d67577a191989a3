package kratoshook

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Kratos' flow-interrupting answer: messages grouped by the JSON pointer of
// the form field they belong to ("#/" for the form itself, which Kratos
// shows in flow.ui.messages).
type interruption struct {
	Messages []fieldMessages `json:"messages"`
}

type fieldMessages struct {
	InstancePtr string        `json:"instance_ptr"`
	Messages    []textMessage `json:"messages"`
}

type textMessage struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	// Type is "error" (anything else Kratos shows as "info").
	Type    string         `json:"type"`
	Context messageContext `json:"context"`
}

// messageContext is what a UI may show or use: never the rules that
// matched, which are for the SOC and not for whoever is trying.
type messageContext struct {
	// Reason is "riskgate_deny", "riskgate_step_up" or
	// "riskgate_unavailable".
	Reason string `json:"reason"`
	// Reference is the decision id, for support; empty on a failover.
	Reference string `json:"reference,omitempty"`
}

var noMessages = interruption{Messages: []fieldMessages{}}

// answer writes the verdict as Kratos expects it.
func (h *Handler) answer(w http.ResponseWriter, v Verdict) {
	var (
		msg    Message
		reason string
	)
	switch {
	case v.Action == Allow, v.Action == StepUp && h.opts.StepUp == StepUpAllow:
		w.WriteHeader(http.StatusNoContent)
		return
	case v.Action == StepUp:
		msg, reason = h.opts.StepUpMessage, "riskgate_step_up"
	case v.Action == Deny && !v.Failover:
		msg, reason = h.opts.DenyMessage, "riskgate_deny"
	default:
		// A failover deny (riskgate could not decide) or a verdict this
		// package does not know: the login cannot go on now.
		msg, reason = h.opts.ErrorMessage, "riskgate_unavailable"
	}
	writeJSON(w, http.StatusForbidden, interruption{Messages: []fieldMessages{{
		InstancePtr: "#/",
		Messages: []textMessage{{
			ID: msg.ID, Text: msg.Text, Type: "error",
			Context: messageContext{Reason: reason, Reference: v.DecisionID},
		}},
	}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // plain structs of strings and ints
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
