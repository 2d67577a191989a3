// Package rules is riskgate's rule language: YAML files of rules whose
// conditions are expr-lang/expr expressions over engine.Env, compiled and
// type-checked once at load, evaluated without allocation per rule, and
// swapped atomically on reload. A file that does not compile is rejected
// whole, with file:line and expr's own message, and the running set stays.
//
// A file looks like this:
//
//	thresholds:
//	  step_up: 40   # summed score at which the answer is at least step_up
//	  deny: 90      # the defaults: step_up 40, deny 90
//	rules:
//	  - id: impossible-travel
//	    description: Travelled faster than an airliner since the last login.
//	    when: geo.impossible_travel
//	    action: step_up
//	    score: 40
//	    tags: [ato, geo]
//
// Each matching enforce rule adds its score and its action; shadow rules are
// recorded in the decision but change nothing. The answer is the strongest
// of the rules' actions and the action the summed score reaches (deny >
// step_up > allow).
package rules
