// Package client is the Go client an identity server uses to ask riskgate
// about login attempts and to tell it what happened after.
//
// It speaks gRPC by default and HTTP/JSON as an option, and is built for
// the login path, where riskgate must never be the reason a login hangs:
//
//   - every call has a deadline (Options.Timeout, 50ms by default);
//   - when riskgate is slow, down, overloaded or refuses the call, Score
//     still returns a usable Decision: the failover action the integrator
//     chose (Options.Failover: allow, step_up or deny), marked Failover
//     with the Cause, so it is never mistaken for riskgate's judgement, and
//     counted (Client.Stats, Options.Observer, the clientprom package);
//   - a circuit breaker opens after a few consecutive failed calls (a
//     call's retries count once), after which
//     calls fail over at once, without touching the network, until a probe
//     finds riskgate back;
//   - over gRPC, calls go round robin over every replica the target's name
//     resolves to, and a replica that stops answering (its keepalive ping
//     unanswered for a few seconds) leaves the rotation until it is back;
//   - calls are retried only where a retry is harmless: a Score carries an
//     attempt_id (generated when the caller gives none), which riskgate uses
//     as an idempotency key, so a retried Score is neither counted twice nor
//     decided differently.
//
// A login scores twice at most: BeforePassword (result unknown: stop a
// credential-stuffing run before the password hash is even computed) and
// AfterPassword, with the result of the password check. The outcome helpers
// (LoginSucceeded, LoginFailed, StepUpPassed, StepUpFailed) report what
// happened after the decision that the login acted on, which is how riskgate
// learns each user's baseline.
//
// The typed password never leaves the process: HashPassword turns it into
// the SHA-1 riskgate's breached-password and spraying checks use, and no
// field of this package or of the wire messages accepts a plain password.
// The hash itself is redacted when formatted or logged.
//
// The package depends on riskgate's generated protobuf code, gRPC and the
// standard library only; nothing of the server (engine, stores, rules) is
// linked into an identity server that imports it.
package client
