package grpcapi

import (
	"context"
	"path/filepath"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/rules"
)

// Promote implements RulesService.Promote.
func (s *Rules) Promote(_ context.Context, req *pb.PromoteRuleRequest) (*pb.Ruleset, error) {
	snap, err := s.Service.PromoteRule(req.IfVersion, req.RuleId)
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return rulesetToPB(snap), nil
}

// GetTenant implements RulesService.GetTenant.
func (s *Rules) GetTenant(_ context.Context, req *pb.GetTenantRulesRequest) (*pb.TenantRules, error) {
	t, err := s.Service.TenantRules(req.Tenant)
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return tenantRulesToPB(t), nil
}

// PutTenant implements RulesService.PutTenant.
func (s *Rules) PutTenant(_ context.Context, req *pb.PutTenantRulesRequest) (*pb.TenantRules, error) {
	t, err := s.Service.PutTenantRules(req.Tenant, req.IfVersion, filesFromPB(req.Files))
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return tenantRulesToPB(t), nil
}

// ValidateTenant implements RulesService.ValidateTenant.
func (s *Rules) ValidateTenant(_ context.Context, req *pb.ValidateTenantRulesRequest) (*pb.ValidateRulesResponse, error) {
	v, err := s.Service.ValidateTenantRules(req.Tenant, filesFromPB(req.Files))
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return validationToPB(v), nil
}

// PromoteTenant implements RulesService.PromoteTenant.
func (s *Rules) PromoteTenant(_ context.Context, req *pb.PromoteTenantRuleRequest) (*pb.TenantRules, error) {
	t, err := s.Service.PromoteTenantRule(req.Tenant, req.IfVersion, req.RuleId)
	if err != nil {
		return nil, toStatus(s.Log, err)
	}
	return tenantRulesToPB(t), nil
}

func validationToPB(v service.Validation) *pb.ValidateRulesResponse {
	if !v.Valid() {
		resp := &pb.ValidateRulesResponse{}
		for _, p := range v.Problems {
			resp.Errors = append(resp.Errors, &pb.RuleError{File: p.File, Line: int32(p.Line), Rule: p.Rule, Field: p.Field, Message: p.Error.Error()})
		}
		return resp
	}
	return &pb.ValidateRulesResponse{Valid: true, Version: v.Set.Version(), RuleCount: int32(len(v.Set.Rules()))}
}

// tenantRulesToPB names files by their base names, and leaves out the
// overlay's folder (persist_path): a tenant's admin needs no server paths.
func tenantRulesToPB(t service.TenantRules) *pb.TenantRules {
	th := t.Set.Thresholds()
	shared, _ := rules.SplitVersion(t.Set.Version())
	out := &pb.TenantRules{
		Tenant: t.Tenant, Version: t.Set.Version(), SharedVersion: shared,
		Thresholds: &pb.Thresholds{StepUp: int32(th.StepUp), Deny: int32(th.Deny)},
	}
	for _, r := range t.Set.Rules() {
		out.Rules = append(out.Rules, &pb.Rule{
			Id: r.ID, Description: r.Description, When: r.When, Action: pb.Action(r.Action), Score: int32(r.Score),
			Mode: r.Mode.String(), Alert: r.Alert, Tags: r.Tags, File: filepath.Base(r.File), Line: int32(r.Line),
			Locked: r.Locked,
		})
	}
	if o := t.Overlay; o != nil {
		ov := &pb.TenantOverlay{Version: o.Overlay.Version(), Origin: o.Origin, Disabled: o.Overlay.Disabled()}
		if th, ok := o.Overlay.Thresholds(); ok {
			ov.Thresholds = &pb.Thresholds{StepUp: int32(th.StepUp), Deny: int32(th.Deny)}
		}
		for _, src := range o.Sources {
			ov.Files = append(ov.Files, &pb.RuleFile{Name: filepath.Base(src.Name), Content: string(src.Data)})
		}
		for _, p := range o.Problems {
			ov.Problems = append(ov.Problems, &pb.RuleError{File: filepath.Base(p.File), Line: int32(p.Line), Rule: p.Rule, Field: p.Field, Message: p.Err.Error()})
		}
		out.Overlay = ov
	}
	if f := t.Failure; f != nil {
		re := &pb.TenantReloadError{Since: timestamppb.New(f.Since)}
		for _, p := range f.Problems() {
			re.Errors = append(re.Errors, &pb.RuleError{File: p.File, Line: int32(p.Line), Rule: p.Rule, Field: p.Field, Message: p.Err.Error()})
		}
		out.ReloadError = re
	}
	return out
}
