// Package serveahead starts the work of `riskgate serve` that needs no
// flag, the compile of the built-in rules, while the binary's other
// packages are still being initialised.
//
// Package initialisation runs on one goroutine, one package at a time;
// for serve it is a third of the time from exec to ready (kafka-go's
// protocol tables, protobuf descriptors, Prometheus), and the machine's
// other cores sit idle through it. Initialisation orders packages by
// import path once their imports are ready, so this one, which imports
// only rules and os, runs as soon as the rules package is ready, before
// kafka-go and grpc: the compile then runs beside their initialisation
// rather than beside the parsing of flags, where it was often still
// running when the node asked for it (0.1-2 ms of waiting in a start of
// 13). That holds only while package rules waits for nothing Go
// initialises late: its import of the Prometheus client (which imports
// net/http) put it after all of those, and the compile back beside
// main, until 6 December (rules.LoadStats says how it reports its
// metrics now); cmd/riskgate's TestServeAheadInitOrder fails when it
// happens again. Only serve pays: other commands are left alone.
package serveahead

import (
	"os"

	"github.com/riskgate/riskgate/rules"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		rules.CompileDefaultAhead()
	}
}
