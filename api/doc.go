// Package api holds riskgate's network surfaces: the protobuf definitions
// (api/proto) and their generated Go (api/gen), the service layer every
// transport calls (api/service: the operations and the authorisation level
// each needs), the gRPC services (api/grpcapi), the HTTP/JSON API
// (api/httpapi, described by api/openapi.yaml), error classification for
// both (api/apierr), authentication (api/auth), decision and request
// metrics (api/metrics) and the server that puts them on their listeners
// (api/server).
//
// The generated code is committed. After changing a .proto file, run
//
//	go generate ./api
//
// which needs protoc (Debian: apt-get install protobuf-compiler) and the
// three plugins at the versions the generated files name:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go install github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto@v0.6.1-0.20240319094008-0393e58bdf10
//
// The third writes *_vtproto.pb.go: marshalling generated per message
// (MarshalVT, SizeVT) rather than driven by tables at run time, which the
// gRPC server's codec (api/grpcapi.Codec) uses for the Decision every Score
// returns. Its version is the one grpc-go itself requires, so it adds no
// module to the build.
package api

//go:generate protoc -I proto --go_out=gen --go_opt=paths=source_relative --go-grpc_out=gen --go-grpc_opt=paths=source_relative riskgate/v1/risk.proto riskgate/v1/signals.proto riskgate/v1/rules.proto
//go:generate protoc -I proto --go-vtproto_out=gen --go-vtproto_opt=paths=source_relative,features=marshal+size+unmarshal riskgate/v1/risk.proto riskgate/v1/signals.proto
//go:generate protoc -I proto --go-vtproto_out=gen --go-vtproto_opt=paths=source_relative,features=marshal+size riskgate/v1/rules.proto
