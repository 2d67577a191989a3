package rules

import (
	"unsafe"

	"github.com/riskgate/riskgate/engine"
)

// envValue returns env as an interface holding an engine.Env value, not a
// pointer, without copying it.
//
// Why: expr reads struct fields through reflect. From a pointer the fields
// are addressable, and reflect copies every field it hands out to the heap
// (an allocation per field read per rule); from a value it points into the
// value instead. Boxing the value the ordinary way copies the whole Env
// (about 900 bytes) to the heap on every Score, which is most of what Score
// allocates. So the interface is built by hand: its type word is
// engine.Env's and its data word points at env, exactly what boxing would
// produce had the copy been made there.
//
// This is sound because the interface never outlives the evaluation (the
// VM's stack is cleared at the start of each run, and no value read from
// it is kept: matched rules only yield bools and freshly built strings),
// and env is not modified while the rules run. The test
// TestEnvValueMatchesCopy checks the result against an ordinary copy.
func envValue(env *engine.Env) any {
	var x any
	e := (*eface)(unsafe.Pointer(&x))
	e.typ = envType
	e.data = unsafe.Pointer(env)
	return x
}

type eface struct {
	typ, data unsafe.Pointer
}

var envType = func() unsafe.Pointer {
	var x any = engine.Env{}
	return (*eface)(unsafe.Pointer(&x)).typ
}()
