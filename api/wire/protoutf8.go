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
