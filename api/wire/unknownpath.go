package wire

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// UnknownFieldPath is the dotted path (geo.zz, attempt.zz) of the key name
// that encoding/json refused as unknown while decoding data into a value
// of type t: its error names the key alone, wherever it was. It is name
// when no path is found.
func UnknownFieldPath(data []byte, t reflect.Type, name string) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return name
	}
	if p, ok := unknownIn(v, t, name, ""); ok {
		return p
	}
	return name
}

func unknownIn(v any, t reflect.Type, name, prefix string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "-" || !f.IsExported() {
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			fields[strings.ToLower(tag)] = f.Type
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, known := fields[strings.ToLower(k)]
			if !known {
				if k == name {
					return prefix + k, true
				}
				continue
			}
			if p, ok := unknownIn(obj[k], ft, name, prefix+k+"."); ok {
				return p, true
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		for k, e := range obj {
			if p, ok := unknownIn(e, t.Elem(), name, prefix+k+"."); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return "", false
		}
		for _, e := range arr {
			if p, ok := unknownIn(e, t.Elem(), name, prefix); ok {
				return p, true
			}
		}
	}
	return "", false
}
