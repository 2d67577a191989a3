package main

import (
	"reflect"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
)

// TestMemoryCapsReachTheStore (issue 10 item 9): the caps an operator
// sets reach the store and the engine; the account and password windows'
// cap was once hard-coded.
func TestMemoryCapsReachTheStore(t *testing.T) {
	m := memoryFlags{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6, MaxRetries: 7, MaxRetryBytes: 8, UserAgents: 9}
	got := m.storeOptions()
	if want := (memstore.Options{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6}); !reflect.DeepEqual(got, want) {
		t.Errorf("store options %+v, want %+v", got, want)
	}
	var o engine.Options
	m.engineOptions(&o)
	if o.RetryEntries != 7 || o.RetryMaxBytes != 8 || o.UserAgents != 9 {
		t.Errorf("engine options %+v", o)
	}
	m.MaxRetries = 0
	m.engineOptions(&o)
	if o.RetryEntries >= 0 {
		t.Errorf("--memory-max-retries 0 leaves retries on (%d)", o.RetryEntries)
	}
}
