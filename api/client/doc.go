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
//     call's retries count once), after which calls fail over at once,
//     without touching the network, until a probe finds riskgate back;
//   - over gRPC, calls go round robin over every replica the target's name
//     resolves to, and a replica that stops answering (its keepalive ping
//     unanswered for a few seconds) leaves the rotation until it is back.
//     The pings come every 10 seconds, which a riskgate from before its
//     server accepted them (2026-12-05) answers with GOAWAY
//     too_many_pings: upgrade the servers before their clients;
//   - what the person logging in controls (the username, the User-Agent
//     header, a device cookie) is cleaned before it is sent, by the rules
//     riskgate applies itself: invalid UTF-8 and control characters become
//     U+FFFD, a user agent is cut to 1024 bytes, a username or device id
//     over 256 bytes becomes "sha256:" and the hex SHA-256 of its bytes.
//     An attacker cannot get his login refused, and so failed over, by
//     sending a long or malformed header;
//   - calls are retried only where a retry is harmless: a Score carries an
//     attempt_id (generated when the caller gives none), which riskgate uses
//     as an idempotency key, so a retried Score is neither counted twice nor
//     decided differently.
//
// A login scores twice at most: BeforePassword (result unknown: stop a
// credential-stuffing run before the password hash is even computed) and
// AfterPassword, with the result of the password check. The outcome helpers
// (LoginSucceeded, LoginFailed, StepUpPassed, StepUpFailed) report what
// happened after the decision that the login acted on, AfterPassword's,
// which is how riskgate learns each user's baseline. A failed password
// counts in riskgate's attack windows when AfterPassword scores it, except
// when that decision failed over: riskgate never saw it, so report
// LoginFailed (which sends the attempt) after every failed password; for a
// decision riskgate made it sends nothing. BeforePassword marks
// its Score (ScoreRequest.before_password), so riskgate holds nothing
// awaiting its decision's outcome; a riskgate from before that field
// (2026-12-05) ignores it and holds the decision until it expires, as it
// always did.
//
// The typed password never leaves the process: HashPassword turns it into
// the SHA-1 riskgate's breached-password and spraying checks use, and no
// field of this package or of the wire messages accepts a plain password.
// The hash itself is redacted when formatted or logged.
//
// # Metrics
//
// Client.Stats counts calls, failovers and retries in the process. For
// Prometheus, pass the Observer of package clientprom (clientprom.New) as
// Options.Observer; it registers:
//
//   - riskgate_client_calls_total{op, result}: calls by operation ("score",
//     "report") and result: "ok", or the Cause of the failure ("timeout",
//     "unavailable", "overloaded", "circuit_open", "server_error",
//     "rejected", "canceled"); every series exists from the start, at 0;
//   - riskgate_client_failovers_total{cause, action}: logins that got the
//     failover action (Options.Failover) because riskgate did not decide;
//   - riskgate_client_requests_total{op}: requests sent, retries included
//     (a call failed over by an open circuit sends none);
//   - riskgate_client_call_duration_seconds{op}: a histogram of the calls'
//     durations as the login saw them, retries and failovers included;
//   - riskgate_client_breaker_state: the circuit breaker, 0 closed, 1
//     half-open, 2 open (logins get the failover action); with several
//     clients sharing the metrics, the worst of their breakers;
//   - riskgate_client_breaker_opened_total: times the circuit opened.
//
// Several clients in one process share these series: give each the same
// Observer, or call clientprom.New again on the same registry, which counts
// into the collectors the first call registered (a collector of one of
// these names but of another shape is still an error).
//
// Alert on the breaker's state and on the failovers' rate: while either is
// up, logins are decided by the failover action, not by riskgate. A call
// ended by the caller's own deadline, shorter than Options.Timeout, is a
// timeout like any other (counted by the breaker, logged) when that
// deadline left riskgate CallerTimeoutFloor (10ms) or more to answer:
// riskgate decides in microseconds. Shorter caller deadlines, and contexts
// cancelled, are "canceled", which the breaker ignores: alert on
// riskgate_client_calls_total{result="canceled"} too, whose rise means the
// callers' deadlines are too short for riskgate to answer, or riskgate is
// slow. A call whose context ended before it was made sends nothing and
// counts no request.
//
// Over gRPC, riskgate's answers are decoded by the code generated for
// each message (vtprotobuf), as riskgate's server decodes its requests,
// once their strings are checked UTF-8; an answer that code does not take
// is decoded by protobuf-go, so that it fails as it always did. The
// requests carry content-type application/grpc+proto.
//
// The package depends on riskgate's generated protobuf code, gRPC and the
// standard library only, and on the generated decoding it shares with
// riskgate's server (api/internal/fastdecode); nothing of the server
// (engine, stores, rules) is linked into an identity server that imports
// it.
package client
