package service

import (
	"context"
	"errors"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
)

// Capture is what the service needs of the capture a node records
// (engine/capture's sink, and a backtest over its files).
type Capture interface {
	// Forget erases a user's lines and returns how many.
	Forget(ctx context.Context, tenant, user string) (int, error)
	// Backtest replays the capture through a candidate ruleset and a
	// baseline, within the node's bounds on time and size.
	Backtest(ctx context.Context, req BacktestRequest) (*backtest.Report, error)
}

// ErrNoCapture is Backtest's answer on a node that records no capture.
var ErrNoCapture = errors.New("this server records no capture: start it with --capture-dir")

// ErrEmptyCapture is Backtest's answer before anything was captured.
var ErrEmptyCapture = errors.New("the capture holds no attempt yet")

// ErrBusy is Backtest's answer while another backtest runs: one at a time,
// since a backtest takes a core or two from scoring.
var ErrBusy = errors.New("a backtest is already running on this server; try again when it is done")

// BacktestRequest is a backtest of the capture, compiled.
type BacktestRequest struct {
	// Candidate is the ruleset under test.
	Candidate *rules.Set
	// Baseline is the ruleset to compare with; nil: the rules the capture
	// was scored with, as its rules records say.
	Baseline *rules.Set
	// Samples is the number of changed attempts kept per kind of change
	// (0: the default, 5; negative: none).
	Samples int
	// MaxAttempts stops the backtest after this many attempts, under the
	// node's own bound (0: the node's bound).
	MaxAttempts int
}

// BacktestInput is what a caller asks: rule files, not yet compiled.
type BacktestInput struct {
	Files         []rules.Source // the candidate; none: the ruleset in force
	BaselineFiles []rules.Source // none: the rules the capture was scored with
	Samples       int
	MaxAttempts   int
}

// Backtest replays the capture the node holds through a candidate ruleset
// and a baseline and reports the difference (OpBacktest): the report
// `riskgate backtest --json` writes. A candidate that does not compile is
// a *rules.RejectedError; a baseline that does not compile is one too,
// under the field "baseline_files".
func (s *Service) Backtest(ctx context.Context, in BacktestInput) (*backtest.Report, error) {
	if s.capture == nil {
		return nil, ErrNoCapture
	}
	if in.MaxAttempts < 0 {
		return nil, &engine.FieldError{Field: "max_attempts", Msg: "must not be negative"}
	}
	req := BacktestRequest{Candidate: s.rules.Set(), Samples: in.Samples, MaxAttempts: in.MaxAttempts}
	var err error
	if len(in.Files) > 0 {
		if req.Candidate, err = s.rules.Validate(in.Files); err != nil {
			return nil, err
		}
	}
	if len(in.BaselineFiles) > 0 {
		if req.Baseline, err = s.rules.Validate(in.BaselineFiles); err != nil {
			var rej *rules.RejectedError
			if errors.As(err, &rej) {
				return nil, &BaselineRejectedError{RejectedError: rej}
			}
			return nil, err
		}
	}
	return s.capture.Backtest(ctx, req)
}

// BaselineRejectedError is a backtest's baseline ruleset that does not
// compile.
type BaselineRejectedError struct{ *rules.RejectedError }

func (e *BaselineRejectedError) Error() string { return "baseline: " + e.RejectedError.Error() }

func (e *BaselineRejectedError) Unwrap() error { return e.RejectedError }
