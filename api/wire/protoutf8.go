package wire

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// InvalidUTF8Field names the string field of a message of type md whose
// bytes in data are not UTF-8 (attempt.username, attributes.k), or
// returns "" when it finds none. proto.Unmarshal refuses such a message
// without saying which field ("string field contains invalid UTF-8"); this
// walks the wire format again, guided by the descriptor, to say it. Map
// entries are named by their key, as in JSON.
func InvalidUTF8Field(data []byte, md protoreflect.MessageDescriptor) string {
	return invalidUTF8(data, md, "")
}

func invalidUTF8(data []byte, md protoreflect.MessageDescriptor, prefix string) string {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return ""
		}
		data = data[n:]
		fd := md.Fields().ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				return ""
			}
			data = data[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return ""
		}
		data = data[n:]
		name := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
			if f := invalidUTF8Entry(v, fd, name); f != "" {
				return f
			}
		case fd.Kind() == protoreflect.StringKind:
			if !utf8.Valid(v) {
				return name
			}
		case fd.Kind() == protoreflect.MessageKind:
			if f := invalidUTF8(v, fd.Message(), name+"."); f != "" {
				return f
			}
		}
	}
	return ""
}

// invalidUTF8Entry checks one map entry, named name.<key>.
func invalidUTF8Entry(entry []byte, fd protoreflect.FieldDescriptor, name string) string {
	var key []byte
	keyOK, valueOK := true, true
	for len(entry) > 0 {
		num, typ, n := protowire.ConsumeTag(entry)
		if n < 0 {
			return ""
		}
		entry = entry[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, entry); n < 0 {
				return ""
			}
			entry = entry[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(entry)
		if n < 0 {
			return ""
		}
		entry = entry[n:]
		switch {
		case num == 1 && fd.MapKey().Kind() == protoreflect.StringKind:
			key, keyOK = v, utf8.Valid(v)
		case num == 2 && fd.MapValue().Kind() == protoreflect.StringKind:
			valueOK = utf8.Valid(v)
		}
	}
	switch {
	case !keyOK:
		return name
	case !valueOK:
		return name + "." + string(key)
	}
	return ""
}

// UTF8Checker says whether every string field of a message type, at each
// of its occurrences in the wire format, is UTF-8, as proto.Unmarshal
// requires of a proto3 message: a decoder that does not check
// (vtprotobuf's, whose last occurrence of a field wins) can be run on data
// that passes. Its table is built once from the descriptor, so that a
// check costs a walk of the bytes and no descriptor lookups.
type UTF8Checker struct {
	fields []fieldCheck // by field number; past its end: nothing to check
}

type fieldCheck struct {
	kind uint8 // checkNone, checkString, checkMessage, checkMap
	// msg checks a message field, or a map's message values.
	msg *UTF8Checker
	// keyString and valueString: a map's key and value are strings.
	keyString, valueString bool
}

const (
	checkNone = iota
	checkString
	checkMessage
	checkMap
)

// NewUTF8Checker returns the checker of messages of type md.
func NewUTF8Checker(md protoreflect.MessageDescriptor) *UTF8Checker {
	return newUTF8Checker(md, map[protoreflect.FullName]*UTF8Checker{})
}

func newUTF8Checker(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*UTF8Checker) *UTF8Checker {
	if c, ok := seen[md.FullName()]; ok {
		return c // a message that holds itself
	}
	c := &UTF8Checker{}
	seen[md.FullName()] = c
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		var f fieldCheck
		switch {
		case fd.IsMap():
			f = fieldCheck{kind: checkMap, keyString: fd.MapKey().Kind() == protoreflect.StringKind,
				valueString: fd.MapValue().Kind() == protoreflect.StringKind}
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				f.msg = newUTF8Checker(fd.MapValue().Message(), seen)
			}
		case fd.Kind() == protoreflect.StringKind:
			f.kind = checkString
		case fd.Kind() == protoreflect.MessageKind:
			f = fieldCheck{kind: checkMessage, msg: newUTF8Checker(fd.Message(), seen)}
		default:
			continue
		}
		n := int(fd.Number())
		if n >= len(c.fields) {
			c.fields = append(c.fields, make([]fieldCheck, n+1-len(c.fields))...)
		}
		c.fields[n] = f
	}
	return c
}

// Valid says whether data, a message of the checker's type, holds only
// UTF-8 strings. A string sent with another wire type is an unknown
// field to proto.Unmarshal, and not checked here either. Malformed data
// is not valid, nor is a field number past protowire.MaxValidNumber,
// which proto.Unmarshal refuses and vtprotobuf's decoder of a well-known
// type takes.
func (c *UTF8Checker) Valid(data []byte) bool {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		data = data[n:]
		var f fieldCheck
		if typ == protowire.BytesType && int(num) < len(c.fields) {
			f = c.fields[num]
		}
		if f.kind == checkNone {
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				return false
			}
			data = data[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return false
		}
		data = data[n:]
		switch f.kind {
		case checkString:
			if !utf8.Valid(v) {
				return false
			}
		case checkMessage:
			if !f.msg.Valid(v) {
				return false
			}
		case checkMap:
			if !f.validEntry(v) {
				return false
			}
		}
	}
	return true
}

// validEntry checks every occurrence of a map entry's key and value.
func (f *fieldCheck) validEntry(entry []byte) bool {
	for len(entry) > 0 {
		num, typ, n := protowire.ConsumeTag(entry)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		entry = entry[n:]
		if typ != protowire.BytesType || (num != 1 && num != 2) {
			if n = protowire.ConsumeFieldValue(num, typ, entry); n < 0 {
				return false
			}
			entry = entry[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(entry)
		if n < 0 {
			return false
		}
		entry = entry[n:]
		switch {
		case num == 1 && f.keyString, num == 2 && f.valueString:
			if !utf8.Valid(v) {
				return false
			}
		case num == 2 && f.msg != nil:
			if !f.msg.Valid(v) {
				return false
			}
		}
	}
	return true
}
