package alert

import _ "embed"

//go:embed schema/alert.v1.json
var schemaV1 []byte

// SchemaJSON returns the JSON Schema (draft 2020-12) of the alerts this
// package makes, for consumers that validate what they receive.
func SchemaJSON() []byte { return append([]byte(nil), schemaV1...) }

//go:embed schema/notification.v1.json
var notificationSchemaV1 []byte

// NotificationSchemaJSON returns the JSON Schema (draft 2020-12) of the
// notification events this package makes.
func NotificationSchemaJSON() []byte { return append([]byte(nil), notificationSchemaV1...) }
