// Package grpcapi implements riskgate's gRPC services, RiskService and
// RulesService (api/proto/riskgate/v1), on the service layer (api/service),
// and the interceptors that authenticate, measure and protect every call:
// each method maps to a service operation, whose level it needs.
//
// Errors carry standard codes: a bad field is InvalidArgument, an unknown
// decision is NotFound, a stale if_version is Aborted; each error that is
// about a field (as HTTP's "field" names it) carries a
// google.rpc.BadRequest whose field violation names it ("attempt.ip",
// "decision_id", "if_version").
package grpcapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/riskgate/riskgate/api/apierr"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// Risk implements RiskService on the service layer.
type Risk struct {
	pb.UnimplementedRiskServiceServer
	Service *service.Service
	Log     *slog.Logger
}

// Score implements RiskService.Score.
func (s *Risk) Score(ctx context.Context, req *pb.ScoreRequest) (*pb.Decision, error) {
	var d engine.Decision
	if err := s.decide(ctx, req, &d); err != nil {
		return nil, err
	}
	if req.OmitSignals {
		return decisionToPBNoSignals(&d), nil
	}
	return decisionToPB(&d), nil
}

// score is Score as RegisterRisk serves it: the answer in a pooled reply
// that the codec releases.
func (s *Risk) score(ctx context.Context, req *pb.ScoreRequest) (any, error) {
	var d engine.Decision
	if err := s.decide(ctx, req, &d); err != nil {
		return nil, err
	}
	if req.OmitSignals {
		return decisionToPBNoSignals(&d), nil
	}
	r := replies.Get().(*decisionReply)
	r.msg = r.box.fill(&d)
	return r, nil
}

// decide decides req into *d (service.Service.ScoreInto): a Decision is
// 1.2 KB, and one returned was copied at each return on its way here.
func (s *Risk) decide(ctx context.Context, req *pb.ScoreRequest, d *engine.Decision) error {
	a, err := attemptFromPB(req.Attempt, "attempt.")
	if err != nil {
		return toStatus(s.Log, err)
	}
	a.BeforePassword = req.BeforePassword
	if err := engine.CheckBeforePassword(&a); err != nil {
		return toStatus(s.Log, err) // a field of the request, not of attempt
	}
	if err := s.Service.ScoreInto(ctx, &a, d); err != nil {
		return toStatus(s.Log, engine.WithinField(err, "attempt."))
	}
	return nil
}

// Report implements RiskService.Report.
func (s *Risk) Report(ctx context.Context, req *pb.ReportRequest) (*pb.ReportResponse, error) {
	o, err := outcomeFromPB(req)
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	if err := s.Service.Report(ctx, o); err != nil {
		return nil, toStatus(s.Log, err)
	}
	return &pb.ReportResponse{}, nil
}

// Forget implements RiskService.Forget.
func (s *Risk) Forget(ctx context.Context, req *pb.ForgetRequest) (*pb.ForgetResponse, error) {
	if err := s.Service.Forget(ctx, req.Tenant, req.UserId); err != nil {
		return nil, toStatus(s.Log, err)
	}
	return &pb.ForgetResponse{}, nil
}

// GetProfile implements RiskService.GetProfile.
func (s *Risk) GetProfile(ctx context.Context, req *pb.GetProfileRequest) (*pb.Profile, error) {
	p, err := s.Service.Profile(ctx, req.Tenant, req.UserId)
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	tenant := req.Tenant
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	return profileToPB(tenant, req.UserId, &p), nil
}

// Rules implements RulesService on the service layer.
type Rules struct {
	pb.UnimplementedRulesServiceServer
	Service *service.Service
	Log     *slog.Logger
}

// Get implements RulesService.Get.
func (s *Rules) Get(context.Context, *pb.GetRulesRequest) (*pb.Ruleset, error) {
	return rulesetToPB(s.Service.Rules()), nil
}

// Validate implements RulesService.Validate.
func (s *Rules) Validate(_ context.Context, req *pb.ValidateRulesRequest) (*pb.ValidateRulesResponse, error) {
	v, err := s.Service.ValidateRules(filesFromPB(req.Files))
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return validationToPB(v), nil
}

// Put implements RulesService.Put.
func (s *Rules) Put(_ context.Context, req *pb.PutRulesRequest) (*pb.Ruleset, error) {
	snap, err := s.Service.PutRules(req.IfVersion, filesFromPB(req.Files))
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return rulesetToPB(snap), nil
}

// Test implements RulesService.Test.
func (s *Rules) Test(ctx context.Context, req *pb.TestRulesRequest) (*pb.TestRulesResponse, error) {
	a, err := attemptFromPB(req.Attempt, "attempt.")
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	r, err := s.Service.TestRules(ctx, a, filesFromPB(req.Files))
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return &pb.TestRulesResponse{Decision: decisionToPB(&r.Candidate), Current: decisionToPB(&r.Current),
		DecisionFailures: ruleFailuresToPB(r.CandidateFailures), CurrentFailures: ruleFailuresToPB(r.CurrentFailures)}, nil
}

func ruleFailuresToPB(errs []engine.RuleError) []*pb.RuleFailure {
	var out []*pb.RuleFailure
	for _, e := range errs {
		out = append(out, &pb.RuleFailure{Rule: e.RuleID, Message: e.Err.Error()})
	}
	return out
}

// Backtest implements RulesService.Backtest: the report is the JSON
// `riskgate backtest --json` writes.
func (s *Rules) Backtest(ctx context.Context, req *pb.BacktestRequest) (*pb.BacktestResponse, error) {
	rep, err := s.Service.Backtest(ctx, service.BacktestInput{
		Files: filesFromPB(req.Files), BaselineFiles: filesFromPB(req.BaselineFiles),
		Samples: int(req.Samples), MaxAttempts: int(req.MaxAttempts),
	})
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return &pb.BacktestResponse{ReportJson: append(data, '\n')}, nil
}

func rulesetToPB(s *rules.Snapshot) *pb.Ruleset {
	th := s.Set.Thresholds()
	out := &pb.Ruleset{
		Version: s.Set.Version(), Origin: s.Origin, LoadedAt: timestamppb.New(s.LoadedAt),
		Thresholds: &pb.Thresholds{StepUp: int32(th.StepUp), Deny: int32(th.Deny)}, PersistPath: s.PersistPath,
		RemovedTests: s.RemovedTests,
	}
	for _, src := range s.Sources {
		out.Files = append(out.Files, &pb.RuleFile{Name: src.Name, Content: string(src.Data)})
	}
	for _, r := range s.Set.Rules() {
		out.Rules = append(out.Rules, &pb.Rule{
			Id: r.ID, Description: r.Description, When: r.When, Action: pb.Action(r.Action), Score: int32(r.Score),
			Mode: r.Mode.String(), Alert: r.Alert, Notify: r.Notify, Tags: r.Tags, File: r.File, Line: int32(r.Line),
			Locked: r.Locked,
		})
	}
	return out
}

// toStatus turns an error into a gRPC status with details.
func toStatus(log *slog.Logger, err error) error {
	e := apierr.Classify(err)
	if e.Code == codes.Internal || e.Code == codes.Unavailable {
		if log != nil {
			log.Error("grpc call failed", "err", err)
		}
	}
	st := status.New(e.Code, e.Public())
	var br *errdetails.BadRequest
	switch {
	case len(e.Details) > 0:
		br = &errdetails.BadRequest{}
		for _, d := range e.Details {
			field := e.Field
			if d.Index >= 0 {
				field = fmt.Sprintf("%s[%d]", e.Field, d.Index)
			}
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: field, Description: d.Error.Error()})
		}
	case e.Field != "":
		// Whatever the code: an unknown decision_id (NotFound), a rule_id
		// that is not there or not in shadow, a stale if_version
		// (Aborted). HTTP names the field of each in its error body; a
		// gRPC caller, its client included, read it nowhere.
		desc := e.Reason
		if desc == "" {
			desc = e.Message
		}
		br = &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: e.Field, Description: desc}}}
	}
	if br != nil {
		if withDetails, derr := st.WithDetails(br); derr == nil {
			st = withDetails
		}
	}
	return st.Err()
}
