// Package engine is the scoring pipeline of riskgate: it validates a login
// attempt, enriches it, reads the user's baseline and the attack windows from
// a Store in one batched call, computes signals, applies the ruleset and
// answers allow, step_up or deny with reasons. Report feeds outcomes back:
// failures go to the attack windows and completed logins teach the baseline.
//
// The engine owns the shared types (Attempt, Decision, Outcome, Env, Profile)
// and the small interfaces its parts plug into (Store, Signal, Enricher,
// Ruleset, Observer). Implementations live elsewhere: signals in package
// signals, rules in package rules, stores in engine/memstore and
// engine/redisstore.
package engine
