package wire

import "reflect"

// The decoding structs, for the external tests (which import httpapi,
// which imports this package).
var (
	AttemptJSONType = reflect.TypeFor[AttemptJSON]()
	OutcomeJSONType = reflect.TypeFor[OutcomeJSON]()
)
