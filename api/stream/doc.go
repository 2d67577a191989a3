// Package stream scores login attempts from Kafka and publishes the
// decisions and alerts, at least once and in per-user order.
//
// A Runner is one member of a consumer group over the attempts topic (and
// the outcomes topic, if set). It joins the group with kafka-go's
// ConsumerGroup and reads each assigned partition itself, so that every
// partition's messages go to one worker, in offset order, and every commit
// is bound to the generation that fetched the message. A worker decodes a
// batch of messages (JSON exactly as POST /v1/score and POST /v1/outcome
// take it, or protobuf), scores or reports each with the engine, writes
// the decisions (keyed <tenant>/<user>, murmur2-partitioned like the Java
// client), the alerts and the dead letters with acknowledgement from all
// in-sync replicas, and only then commits the batch's offsets.
//
// Delivery is at least once. A crash or a lost generation redelivers what
// was not committed; the engine recognises a redelivered attempt by its
// attempt_id (messages without one get <topic>/<partition>/<offset>@<ms>,
// the record's timestamp in milliseconds) and
// answers with the first decision, so the alert_id is the same too. A
// clean rebalance hands partitions over without duplicates: a node stops
// fetching a partition it is losing, finishes and commits what it fetched,
// and only then lets the group move on. Writes kafka-go acknowledges as
// failed are retried until they succeed or shutdown ends; meanwhile
// fetching stops once BufferSize messages wait, so a broker outage fills
// a bounded buffer and loses nothing (the topic holds the rest). A write
// refused for good (too large, an invalid record) is not retried, or its
// partition would never move on: dead letters are bounded (a value cut to
// 64 KiB, said in a header) so that they fit, a refused one is dropped and
// counted, and a refused decision or alert dead-letters its attempt. A
// dead letter never carries a value that is or may be a secret (a field
// named like one, a password_sha1 that is no SHA-1): it is replaced by
// RedactedMarker, or the value is left out whole when it cannot be
// parsed, and HeaderRedacted says which.
//
// kafka-go's group-managed Reader is not used: it can hand out messages of
// a previous generation after a rebalance and commit them late, rewinding
// a partition another node owns (kafka-go issues 1398 and 1308).
package stream
