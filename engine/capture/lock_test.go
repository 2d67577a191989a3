//go:build unix

package capture

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
)

// Two servers given one capture folder: the second used to finish the
// first's file in progress as a crash's leftover, and the first wrote on
// into a file no longer in the folder, its lines lost without an error.
// The second is refused, naming the folder and the process writing it;
// once the first closes, the folder is free.
func TestFolderIsOneSinks(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())
	decide(first, "alice", 0, engine.ActionAllow)
	// An erasure drains the queue: the line is in the file in progress.
	if _, err := first.Forget(context.Background(), "default", "nobody"); err != nil {
		t.Fatal(err)
	}
	before := dirFiles(t, dir)
	if len(before) != 1 || !strings.HasSuffix(before[0], replay.InProgressSuffix) {
		t.Fatalf("the first sink's folder holds %v, want its file in progress", before)
	}
	second, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err == nil {
		second.Close(context.Background())
		t.Fatal("a second sink opened the folder another writes")
	}
	for _, want := range []string{dir, fmt.Sprintf("process %d", os.Getpid()), "give each server its own"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if after := dirFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the refused sink changed the folder: %v, was %v", after, before)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	third, err := New(Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatalf("the folder closed by its sink is still taken: %v", err)
	}
	third.Close(context.Background())
}
