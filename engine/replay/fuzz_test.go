package replay_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/riskgate/riskgate/engine/replay"
)

// FuzzDecoder feeds arbitrary streams to the decoder and a replay: bad
// input is an error naming a line, never a panic.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		`{"attempt_id":"a1","ip":"81.2.69.160","password":{"key":"00112233445566778899aabbccddeeff","status":"breached","tier":2},"live":{"action":"deny","score":90}}`,
		`{"capture":{"format":1,"created":"2026-05-04T09:00:00Z","key_id":"abc"}}` + "\n" + `{"rules":{"version":"v","files":[{"name":"r.yaml","data":"rules: []"}]}}`,
		`{"gap":{"dropped":3}}` + "\n" + `{"outcome":{"attempt_id":"a1","outcome":"confirmed_fraud"}}`,
		`{"ip":"::1","password":{"key":"zz","status":"clean"}}`,
		"# comment\n\n{\"ip\":\"1.2.3.4\",\"label\":\"legit\"}",
	} {
		f.Add([]byte(s))
	}
	e := newEngine(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := replay.NewDecoder(bytes.NewReader(data))
		var ev replay.Event
		for {
			err := dec.Next(&ev)
			if err != nil {
				if err != io.EOF && !bytes.Contains([]byte(err.Error()), []byte("line ")) {
					t.Fatalf("error without a line: %v", err)
				}
				break
			}
			if ev.Kind == replay.KindAttempt && ev.Line.Password != nil {
				_, _ = ev.Line.Password.Facts()
			}
		}
		_, _ = replay.Run(context.Background(), e, bytes.NewReader(data), io.Discard, replay.Options{AutoOutcomes: true})
	})
}
