package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/rules"
)

// TestServeGRPCAdminListener runs the binary with --grpc-admin-addr: the
// gRPC API listener refuses a Score of 1 MiB, and a rules Put of 200 KiB,
// naming their size and its limit (64 KiB); the admin listener, which the
// log names, takes the Put, and refuses a Score there.
func TestServeGRPCAdminListener(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const admin = "admin-token-for-the-admin-listener-01"
	p := startBinary(t, buildBinary(t), []string{"RISKGATE_ADMIN_TOKEN=" + admin}, "--grpc-admin-addr", "127.0.0.1:0")
	m := regexp.MustCompile(`grpc_admin=(\S+)`).FindStringSubmatch(p.logs())
	if m == nil {
		t.Fatalf("the log does not say where the admin listener listens:\n%s", p.logs())
	}
	dial := func(addr string) *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(8<<20)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	api, adminConn := dial(p.grpc), dial(m[1])
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+admin)
	large := string(rules.DefaultSource().Data) + "\n# " + strings.Repeat("x", 200<<10) + "\n"
	bigScore := &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", UserId: "u-1", UserAgent: strings.Repeat("M", 1<<20)}}
	put := &pb.PutRulesRequest{Files: []*pb.RuleFile{{Name: "rules.yaml", Content: large}}}
	errOf := func(_ any, err error) error { return err }
	for _, tc := range []struct {
		name string
		err  error
		want codes.Code
		says string
	}{
		{"API: a Score of 1 MiB", errOf(pb.NewRiskServiceClient(api).Score(ctx, bigScore)), codes.ResourceExhausted, "larger than max (1048"},
		{"API: a Put of 200 KiB", errOf(pb.NewRulesServiceClient(api).Put(ctx, put)), codes.ResourceExhausted, "vs. 65536)"},
		{"admin: a Put of 200 KiB", errOf(pb.NewRulesServiceClient(adminConn).Put(ctx, put)), codes.OK, ""},
		{"admin: a Score", errOf(pb.NewRiskServiceClient(adminConn).Score(ctx, bigScore)), codes.PermissionDenied, "--grpc-addr"},
	} {
		if st := status.Convert(tc.err); st.Code() != tc.want || !strings.Contains(st.Message(), tc.says) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, tc.err, tc.want, tc.says)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.logs())
	}
}
