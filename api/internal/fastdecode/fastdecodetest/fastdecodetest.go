// Package fastdecodetest helps test decoders against protobuf-go: the
// strings of a message type, found from its descriptor, messages with
// every field set, and a comparison that leaves unknown fields out.
package fastdecodetest

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// StringPath is the place of a string in a message type: a path of
// field descriptors (a map's last element is the map field, with Key true
// for its key).
type StringPath struct {
	Fields []protoreflect.FieldDescriptor
	Key    bool // for a map: its key, not its value
}

// StringPaths lists every string of md, nested messages' and maps' keys
// and values included, so that a field added later is in. A repeated
// message's strings are listed at its first element.
func StringPaths(md protoreflect.MessageDescriptor) []StringPath {
	return stringPaths(md, nil, map[protoreflect.FullName]bool{})
}

func stringPaths(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, seen map[protoreflect.FullName]bool) []StringPath {
	if seen[md.FullName()] {
		return nil // a message that holds itself
	}
	seen[md.FullName()] = true
	defer delete(seen, md.FullName())
	var out []StringPath
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		path := append(append([]protoreflect.FieldDescriptor(nil), prefix...), fd)
		switch {
		case fd.IsMap():
			if fd.MapKey().Kind() == protoreflect.StringKind {
				out = append(out, StringPath{path, true})
			}
			if fd.MapValue().Kind() == protoreflect.StringKind {
				out = append(out, StringPath{Fields: path})
			}
		case fd.Kind() == protoreflect.StringKind:
			out = append(out, StringPath{Fields: path})
		case fd.Kind() == protoreflect.MessageKind:
			out = append(out, stringPaths(fd.Message(), path, seen)...)
		}
	}
	return out
}

// Set puts s at p in m; a map's other half is "v" for a key, "k" for a
// value.
func (p StringPath) Set(m protoreflect.Message, s string) {
	for _, fd := range p.Fields[:len(p.Fields)-1] {
		if fd.IsList() {
			l := m.Mutable(fd).List()
			if l.Len() == 0 {
				l.Append(l.NewElement())
			}
			m = l.Get(0).Message()
			continue
		}
		m = m.Mutable(fd).Message()
	}
	fd := p.Fields[len(p.Fields)-1]
	switch {
	case fd.IsMap() && p.Key:
		m.Mutable(fd).Map().Set(protoreflect.ValueOfString(s).MapKey(), protoreflect.ValueOfString("v"))
	case fd.IsMap():
		m.Mutable(fd).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString(s))
	case fd.IsList():
		m.Mutable(fd).List().Append(protoreflect.ValueOfString(s))
	default:
		m.Set(fd, protoreflect.ValueOfString(s))
	}
}

// String is the path as a JSON-like name (attempt.attributes[key]).
func (p StringPath) String() string {
	var names []string
	for _, fd := range p.Fields {
		names = append(names, string(fd.Name()))
	}
	if p.Fields[len(p.Fields)-1].IsMap() {
		if p.Key {
			return strings.Join(names, ".") + "[key]"
		}
		return strings.Join(names, ".") + "[value]"
	}
	return strings.Join(names, ".")
}

// Name is the name a field-naming walk gives the string at p when it is
// not UTF-8 (Set's map halves): attempt.attributes for a key,
// attempt.attributes.k for a value.
func (p StringPath) Name() string {
	var names []string
	for _, fd := range p.Fields {
		names = append(names, string(fd.Name()))
	}
	if p.Fields[len(p.Fields)-1].IsMap() && !p.Key {
		names = append(names, "k")
	}
	return strings.Join(names, ".")
}

// Full returns a new message of m's type with every field set, to values
// other than their zero: strings not ASCII, numbers at the top of their
// range, two elements in each list and map, messages filled in turn (a
// message that holds itself, once).
func Full(m proto.Message) proto.Message {
	r := m.ProtoReflect().New()
	fill(r, 0, map[protoreflect.FullName]bool{})
	return r.Interface()
}

func fill(m protoreflect.Message, seed int, seen map[protoreflect.FullName]bool) {
	md := m.Descriptor()
	if seen[md.FullName()] {
		return
	}
	seen[md.FullName()] = true
	defer delete(seen, md.FullName())
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && od.Fields().Get(0) != fd {
			continue // one field of a oneof
		}
		n := seed + i + 1
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := range 2 {
				l.Append(value(fd, l.NewElement, n+j, seen))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for j := range 2 {
				k := value(fd.MapKey(), nil, n+j, seen).MapKey()
				mp.Set(k, value(fd.MapValue(), mp.NewValue, n+j, seen))
			}
		case fd.Message() != nil:
			fill(m.Mutable(fd).Message(), n, seen)
		default:
			m.Set(fd, value(fd, nil, n, seen))
		}
	}
}

// value is a value of fd's kind, other than its zero, made from n.
func value(fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, n int, seen map[protoreflect.FullName]bool) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vs := fd.Enum().Values() // past the first, which is zero
		if vs.Len() == 1 {
			return protoreflect.ValueOfEnum(vs.Get(0).Number())
		}
		return protoreflect.ValueOfEnum(vs.Get(1 + n%(vs.Len()-1)).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(-n * 1_000_003))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(-n) << 40)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n) << 24)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n) << 50)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) + 0.25)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) + 0.1)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(strings.Repeat("é", n%3+1) + string(rune('a'+n%26)))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(n), 0xff})
	case protoreflect.MessageKind, protoreflect.GroupKind:
		v := newMsg()
		fill(v.Message(), n, seen)
		return v
	}
	panic("fastdecodetest: kind " + fd.Kind().String())
}

// DropUnknowns clears the unknown fields of m and of the messages in it.
// The decoders keep them differently (protobuf-go rewrites a field's tag
// in its shortest form, vtprotobuf keeps the bytes sent; its decoder of
// google.protobuf.Timestamp drops them), and nothing reads them.
func DropUnknowns(m proto.Message) proto.Message {
	var walk func(protoreflect.Message)
	walk = func(r protoreflect.Message) {
		r.SetUnknown(nil)
		r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
					walk(v.Message())
					return true
				})
			case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	return m
}
