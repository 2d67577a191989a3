package engine

import "strings"

// UnknownField is the message of an unknown field of a request (JSON
// over HTTP, Kafka); a field that
// carries a plain password is told what to send instead.
func UnknownField(name string) string {
	last := name[strings.LastIndexByte(name, '.')+1:]
	switch strings.ToLower(last) {
	case "password", "passwd", "pass", "pwd", "plain_password":
		return name + ": unknown field: plain passwords are never accepted; send password_sha1, the SHA-1 of the password in hex"
	}
	return name + ": unknown field"
}
