package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"time"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
)

// backtestRequest is the JSON body of POST /v1/rules:backtest.
type backtestRequest struct {
	Files         []fileJSON `json:"files"`
	BaselineFiles []fileJSON `json:"baseline_files"`
	Samples       int        `json:"samples"`
	MaxAttempts   int        `json:"max_attempts"`
}

// backtest replays the capture the server holds through a candidate
// ruleset (OpBacktest) and answers the report `riskgate backtest --json`
// writes; ?format=html answers the HTML report, ?format=text the text.
// Like validate, it takes a single YAML file as the body too (named by
// ?name=). Every field is optional, and so is the body: an empty one is {}.
func (a *API) backtest(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	switch format {
	case "", "json", "html", "text":
	default:
		a.fail(w, &engine.FieldError{Field: "format", Msg: "want json, html or text"})
		return
	}
	var req backtestRequest
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); isYAML(mt) && r.ContentLength != 0 {
		// The candidate file alone, as for validate. No body at all is {}
		// whatever the Content-Type, not an empty candidate file.
		var rr rulesRequest
		if err := readRules(w, r, &rr); err != nil {
			a.failRequest(w, err)
			return
		}
		req.Files = rr.Files
	} else if err := nameWithoutYAML(r); err != nil {
		a.fail(w, err)
		return
	} else if err := decodeOptional(w, r, 2*MaxRulesBody, &req); err != nil {
		a.failRequest(w, err)
		return
	}
	// The server's write timeout is for ordinary calls; a backtest is
	// bounded by its own (--capture-backtest-timeout).
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	rep, err := a.Service.Backtest(r.Context(), service.BacktestInput{
		Files: sources(req.Files), BaselineFiles: sources(req.BaselineFiles), Samples: req.Samples, MaxAttempts: req.MaxAttempts,
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	switch format {
	case "html":
		h.Set("Content-Type", "text/html; charset=utf-8")
		_ = rep.WriteHTML(w)
	case "text":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		_ = rep.WriteText(w)
	default:
		h.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	}
}
