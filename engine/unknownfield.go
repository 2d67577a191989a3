package engine

import (
	"reflect"
	"strings"
)

// PlainPasswordMsg is how the refusal of a field that carries a plain
// password says so.
const PlainPasswordMsg = "plain passwords are never accepted"

// UnknownField is the message of an unknown field of a request (JSON
// over HTTP, Kafka); a field that
// carries a plain password is told what to send instead.
func UnknownField(name string) string {
	last := name[strings.LastIndexByte(name, '.')+1:]
	switch strings.ToLower(last) {
	case "password", "passwd", "pass", "pwd", "plain_password":
		return name + ": unknown field: " + PlainPasswordMsg + "; send password_sha1, the SHA-1 of the password in hex"
	}
	return name + ": unknown field"
}

// JSONKind names the JSON a Go type decodes from, for error messages,
// which never name Go types (httpapi.attemptJSON, float64): the APIs' and
// the replay's.
func JSONKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a JSON string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Pointer:
		return JSONKind(t.Elem())
	}
	return t.String()
}
