package fastdecode

import (
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// UTF8Checker says whether every string field of a message type, at each
// of its occurrences in the wire format, is UTF-8, as proto.Unmarshal
// requires of a proto3 message: a decoder that does not check
// (vtprotobuf's, whose last occurrence of a field wins) can be run on data
// that passes. Where one is not, it names it (InvalidField). Its table is
// built once from the descriptor, so that a check costs a walk of the
// bytes and no descriptor lookups.
type UTF8Checker struct {
	fields []fieldCheck // by field number; past its end: nothing to check
}

type fieldCheck struct {
	kind uint8 // checkNone, checkString, checkMessage, checkMap
	// keyString and valueString: a map's key and value are strings.
	keyString, valueString bool
	// msg checks a message field, or a map's message values.
	msg *UTF8Checker
	// name is the field's, for InvalidField.
	name string
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
		f.name = string(fd.Name())
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
	_, ok := c.walk(data)
	return ok
}

// InvalidField names the first string field of data, a message of the
// checker's type, that is not UTF-8 (attempt.username, attributes.k), or
// returns "" when there is none before the data's end or the first
// malformed bytes (proto.Unmarshal, which refuses such a message without
// saying which field, meets them in the same order and stops at the
// first). Map entries are named by their key, as in JSON; an entry whose
// key is not UTF-8 by the map's name alone.
func (c *UTF8Checker) InvalidField(data []byte) string {
	name, _ := c.walk(data)
	return name
}

// walk checks data, the one walk of Valid and InvalidField. It returns
// ok when data is well-formed and its strings are UTF-8; otherwise the
// path of the first string that is not, relative to c's message, or ""
// for malformed data. Names are only made on the way back from a string
// that is not UTF-8: data that passes costs no allocation.
func (c *UTF8Checker) walk(data []byte) (string, bool) {
	for len(data) > 0 {
		// Most tags, values and lengths take a byte or a fixed width,
		// read here; the rest, and every fault, by protowire.
		var num protowire.Number
		var typ protowire.Type
		if b := data[0]; b < 0x80 && b >= 1<<3 {
			num, typ = protowire.Number(b>>3), protowire.Type(b&7)
			data = data[1:]
		} else {
			var n int
			num, typ, n = protowire.ConsumeTag(data)
			if n < 0 || num > protowire.MaxValidNumber {
				return "", false
			}
			data = data[n:]
		}
		var f *fieldCheck
		if typ == protowire.BytesType && int(num) < len(c.fields) && c.fields[num].kind != checkNone {
			f = &c.fields[num]
		}
		if f == nil {
			switch {
			case typ == protowire.VarintType && len(data) > 0 && data[0] < 0x80:
				data = data[1:]
			case typ == protowire.Fixed64Type && len(data) >= 8:
				data = data[8:]
			case typ == protowire.Fixed32Type && len(data) >= 4:
				data = data[4:]
			default:
				n := protowire.ConsumeFieldValue(num, typ, data)
				if n < 0 {
					return "", false
				}
				data = data[n:]
			}
			continue
		}
		var v []byte
		if len(data) > 0 && data[0] < 0x80 && int(data[0]) < len(data) {
			v, data = data[1:1+data[0]], data[1+data[0]:]
		} else {
			var n int
			v, n = protowire.ConsumeBytes(data)
			if n < 0 {
				return "", false
			}
			data = data[n:]
		}
		switch f.kind {
		case checkString:
			if !utf8.Valid(v) {
				return f.name, false
			}
		case checkMessage:
			if bad, ok := f.msg.walk(v); !ok {
				return join(f.name, bad), false
			}
		case checkMap:
			if bad, ok := f.walkEntry(v); !ok {
				return bad, false
			}
		}
	}
	return "", true
}

// walkEntry checks every occurrence of a map entry's key and value. An
// entry whose value is not UTF-8 is named by its key (the last, which
// proto.Unmarshal keeps), which may come after the value: the rest of the
// entry is read for it, up to malformed bytes.
func (f *fieldCheck) walkEntry(entry []byte) (string, bool) {
	var key []byte
	badValue, inValue := false, "" // a value not UTF-8, and its path in the value
	malformed := false
	for len(entry) > 0 && !malformed {
		num, typ, n := protowire.ConsumeTag(entry)
		if n < 0 || num > protowire.MaxValidNumber {
			malformed = true
			break
		}
		entry = entry[n:]
		if typ != protowire.BytesType || (num != 1 && num != 2) {
			n = protowire.ConsumeFieldValue(num, typ, entry)
			malformed = n < 0
			if !malformed {
				entry = entry[n:]
			}
			continue
		}
		v, n := protowire.ConsumeBytes(entry)
		if n < 0 {
			malformed = true
			break
		}
		entry = entry[n:]
		switch {
		case num == 1 && f.keyString:
			if !utf8.Valid(v) {
				return f.name, false
			}
			key = v
		case badValue: // the key is all that is looked for
		case num == 2 && f.valueString:
			badValue = !utf8.Valid(v)
		case num == 2 && f.msg != nil:
			bad, ok := f.msg.walk(v)
			if !ok && bad == "" {
				return "", false // malformed
			}
			badValue, inValue = !ok, bad
		}
	}
	switch {
	case badValue:
		name := f.name + "." + string(key)
		if inValue != "" {
			name += "." + inValue
		}
		return name, false
	case malformed:
		return "", false
	}
	return "", true
}

// join makes the path of name in the message at prefix.
func join(prefix, name string) string {
	if name == "" {
		return ""
	}
	return prefix + "." + name
}

// InvalidUTF8Field names the string field of a message of type md whose
// bytes in data are not UTF-8, as InvalidField does, or returns "" when
// it finds none. Its checkers are built once a message type.
func InvalidUTF8Field(data []byte, md protoreflect.MessageDescriptor) string {
	c, ok := checkers.Load(md)
	if !ok {
		c, _ = checkers.LoadOrStore(md, NewUTF8Checker(md))
	}
	return c.(*UTF8Checker).InvalidField(data)
}

// checkers holds InvalidUTF8Field's checkers, by message descriptor.
var checkers sync.Map // protoreflect.MessageDescriptor -> *UTF8Checker
