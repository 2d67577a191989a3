package engine

import (
	"reflect"
	"testing"
)

// TestScratchEnvZeroWhenPooled: fillAttemptEnv assigns only the
// attempt's and the state's groups of the environment, relying on
// release to clear the rest before the scratch goes back to the pool
// (a new scratch is zero). A field release left set would leak from one
// Score's signals into the next's.
func TestScratchEnvZeroWhenPooled(t *testing.T) {
	e := &Engine{}
	s := new(scratch)
	fill(reflect.ValueOf(&s.env).Elem())
	if reflect.ValueOf(s.env).IsZero() {
		t.Fatal("fill left the environment zero")
	}
	e.release(s)
	v := reflect.ValueOf(s.env)
	for i := range v.NumField() {
		if !v.Field(i).IsZero() {
			t.Errorf("release left env.%s set: %+v", v.Type().Field(i).Name, v.Field(i))
		}
	}
}

// fill sets every field of v it can to a value other than zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				fill(v.Field(i))
			}
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.String:
		v.SetString("x")
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	}
}
