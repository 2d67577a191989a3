// Command floor is the cheapest server that speaks riskgate's API: the
// same riskgate.v1 gRPC service with the same grpc-go server options, and
// the same HTTP/JSON Score route, each answering every Score with a fixed
// decision and doing nothing else (with -redis, one Redis Function call per
// Score, the least a networked store can cost). It is the floor riskgate's
// own cost is measured against (issue 15): benchmarks/load/compare starts
// both on free ports, alternately, and reports riskgate's figures as
// ratios of the floor's, so that the machine's speed and load cancel out.
//
//	go run ./benchmarks/floor -grpc-addr 127.0.0.1:0 -http-addr 127.0.0.1:0
//	go run ./benchmarks/floor -redis redis://127.0.0.1:6379/0
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/grpcapi"
)

func main() {
	grpcAddr := flag.String("grpc-addr", "127.0.0.1:9090", "gRPC listen address (port 0: any free port)")
	httpAddr := flag.String("http-addr", "127.0.0.1:8080", "HTTP listen address (port 0: any free port)")
	redisURL := flag.String("redis", "", "a Redis URL: make one Function call per Score")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *grpcAddr, *httpAddr, *redisURL, os.Stdout); err != nil {
		log.Fatal("floor: ", err)
	}
}

// fcallLib is the Redis Function of -redis: one read-modify-write of one
// key, the least a stateful Score can ask of Redis.
const fcallLib = `#!lua name=riskgate_floor
redis.register_function('riskgate_floor_touch', function(keys, args)
  return redis.call('INCR', keys[1])
end)`

type floor struct {
	pb.UnimplementedRiskServiceServer
	rdb *redis.Client // nil without -redis
}

// decision is the fixed answer: what riskgate answers for an ordinary
// login without its signals.
func (f *floor) decision(attemptID string) *pb.Decision {
	return &pb.Decision{
		DecisionId: "01JFLOOR0000000000000000000", AttemptId: attemptID, Tenant: "default",
		Time: timestamppb.New(time.Now()), Action: pb.Action_ACTION_ALLOW, RulesVersion: "floor",
	}
}

// touch is the Score's one Function call, keyed by the attempt's user so
// the keys spread as riskgate's do.
func (f *floor) touch(ctx context.Context, user string) error {
	if f.rdb == nil {
		return nil
	}
	return f.rdb.FCall(ctx, "riskgate_floor_touch", []string{"floor:{" + user + "}"}).Err()
}

func (f *floor) Score(ctx context.Context, req *pb.ScoreRequest) (*pb.Decision, error) {
	a := req.GetAttempt()
	if err := f.touch(ctx, a.GetUserId()); err != nil {
		return nil, err
	}
	return f.decision(a.GetAttemptId()), nil
}

// attemptJSON is the Score body as riskgate's HTTP API reads it.
type attemptJSON struct {
	Tenant       string            `json:"tenant"`
	AttemptID    string            `json:"attempt_id"`
	Time         string            `json:"time"`
	UserID       string            `json:"user_id"`
	Username     string            `json:"username"`
	IP           string            `json:"ip"`
	UserAgent    string            `json:"user_agent"`
	DeviceID     string            `json:"device_id"`
	PasswordSHA1 string            `json:"password_sha1"`
	Result       string            `json:"result"`
	Geo          *geoJSON          `json:"geo"`
	Channel      string            `json:"channel"`
	Attributes   map[string]string `json:"attributes"`
}

type geoJSON struct {
	Country string   `json:"country"`
	Lat     *float64 `json:"lat"`
	Lon     *float64 `json:"lon"`
}

type decisionJSON struct {
	DecisionID   string    `json:"decision_id"`
	AttemptID    string    `json:"attempt_id"`
	Tenant       string    `json:"tenant"`
	Time         time.Time `json:"time"`
	Action       string    `json:"action"`
	Score        int       `json:"score"`
	Reasons      []string  `json:"reasons"`
	RulesVersion string    `json:"rules_version"`
}

const maxBody = 64 << 10 // riskgate's limit on a Score body

func (f *floor) scoreHTTP(w http.ResponseWriter, r *http.Request) {
	var a attemptJSON
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		http.Error(w, `{"error":{"code":"invalid_argument"}}`, http.StatusBadRequest)
		return
	}
	if err := f.touch(r.Context(), a.UserID); err != nil {
		http.Error(w, `{"error":{"code":"unavailable"}}`, http.StatusServiceUnavailable)
		return
	}
	d := decisionJSON{DecisionID: "01JFLOOR0000000000000000000", AttemptID: a.AttemptID, Tenant: "default", Time: time.Now().UTC(),
		Action: "allow", Reasons: []string{}, RulesVersion: "floor"}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&d)
}

func run(ctx context.Context, grpcAddr, httpAddr, redisURL string, out io.Writer) error {
	f := &floor{}
	if redisURL != "" {
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		f.rdb = redis.NewClient(opts)
		defer f.rdb.Close()
		if err := f.rdb.FunctionLoadReplace(ctx, fcallLib).Err(); err != nil {
			return fmt.Errorf("redis: load function: %w", err)
		}
	}
	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	// The server options riskgate's gRPC server sets that change the cost
	// of a call.
	gs := grpc.NewServer(grpc.NumStreamWorkers(uint32(16*runtime.GOMAXPROCS(0))), grpc.ForceServerCodecV2(grpcapi.Codec()))
	pb.RegisterRiskServiceServer(gs, f)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/score", f.scoreHTTP)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(gl) }()
	go func() { errc <- hs.Serve(hl) }()
	fmt.Fprintf(out, "floor: grpc %s http %s pid %s\n", gl.Addr(), hl.Addr(), strconv.Itoa(os.Getpid()))
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	gs.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
