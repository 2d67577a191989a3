package server

import "time"

// SetGRPCConnectionTimes sets the gRPC connections' idle timeout, age and
// grace of the servers built next, until the returned func restores them.
func SetGRPCConnectionTimes(idle, age, grace time.Duration) (restore func()) {
	i, a, g := grpcIdleTimeout, grpcMaxAge, grpcAgeGrace
	grpcIdleTimeout, grpcMaxAge, grpcAgeGrace = idle, age, grace
	return func() { grpcIdleTimeout, grpcMaxAge, grpcAgeGrace = i, a, g }
}

// SetGRPCHandshakeTimeout sets the time a gRPC connection has for its
// handshake on the servers built next, until the returned func restores it.
func SetGRPCHandshakeTimeout(d time.Duration) (restore func()) {
	old := grpcHandshakeTimeout
	grpcHandshakeTimeout = d
	return func() { grpcHandshakeTimeout = old }
}
