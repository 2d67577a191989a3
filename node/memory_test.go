package node

import (
	"reflect"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
)

// TestMemoryCapsReachTheStore (issue 10 item 9): the caps an operator
// sets reach the memory store and the engine; the zero config leaves each
// to its part's default, and a negative MaxRetries turns retries off.
func TestMemoryCapsReachTheStore(t *testing.T) {
	m := MemoryConfig{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6, MaxRetries: 7, MaxRetryBytes: 8, UserAgents: 9}
	if got, want := m.storeOptions(), (memstore.Options{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6}); !reflect.DeepEqual(got, want) {
		t.Errorf("store options %+v, want %+v", got, want)
	}
	var o engine.Options
	m.engineOptions(&o)
	if o.RetryEntries != 7 || o.RetryMaxBytes != 8 || o.UserAgents != 9 {
		t.Errorf("engine options %+v", o)
	}
	m.MaxRetries = -1
	m.engineOptions(&o)
	if o.RetryEntries >= 0 {
		t.Errorf("MaxRetries -1 leaves retries on (%d)", o.RetryEntries)
	}
	var zero MemoryConfig
	zero.engineOptions(&o)
	if o.RetryEntries != 0 || o.RetryMaxBytes != 0 || o.UserAgents != 0 {
		t.Errorf("the zero config does not leave the engine's defaults: %+v", o)
	}
}
