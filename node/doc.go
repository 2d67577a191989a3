// Package node assembles one riskgate node from a Config: the engine, its
// state store (memory or Redis), the rules in force and their lifecycle,
// the enrichers (GeoIP databases, IP lists) and the breached-password
// filter with the watchers that reload them, observers and sinks, the
// metrics of every part, and the service layer every transport calls; then
// serves it (Serve) and takes it apart in one ordered path (Close).
//
// It is the one place riskgate is put together: `riskgate serve` and
// `riskgate replay`, the quality benchmark, the rule tests and the test
// helpers all build their engines here, so they all run what the binary
// runs. cmd/riskgate only maps flags, RISKGATE_* variables and the YAML
// file onto a Config.
//
// # Plugging in
//
//	n, err := node.New(ctx, cfg,
//		node.WithRegistry(reg),                 // metrics of every part
//		node.WithObserver(alertSink),           // an engine.Observer; a Closer is flushed on shutdown
//		node.WithRunner(kafkaConsumer),         // Run(ctx, svc) beside the listeners, drained on shutdown
//		node.WithRoutes(kratosRoutes),          // HTTP routes on the service (node.KratosRoutes), each with its service.Op
//		node.WithCheck("kafka", consumer.Ready), // readiness
//	)
//	err = n.Serve(ctx, sighup)
//
// Shutdown runs in this order: readiness drops, the listeners drain and
// the runners return (within Shutdown.Timeout); then Close closes, in the
// reverse order of assembly, the observers (sinks flush), the store
// (Redis writes behind flush), the breached-password filter, the
// enrichers.
package node
