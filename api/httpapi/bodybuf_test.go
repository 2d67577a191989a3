package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestScoreBodyBufferFollowsArrivedBytes: the buffer a Score's body is
// read into grows with the bytes that arrived, not with the length the
// client declared. A client declaring 64 KiB and sending one byte held 64
// KiB of heap until the request timed out (30 s): 6,000 such connections,
// ~150 bytes sent on each, held 400 MB the collector counted as live, and
// with --gc-percent 400 the process grew to 1.7 GB beside ordinary traffic.
func TestScoreBodyBufferFollowsArrivedBytes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		declared, sent int
		maxCap         int
	}{
		{"one byte of a declared 64 KiB", MaxAttemptBody, 1, bodyUpFront},
		{"1 KiB of a declared 64 KiB", MaxAttemptBody, 1 << 10, bodyUpFront},
		{"20 KiB of a declared 64 KiB", MaxAttemptBody, 20 << 10, 2 * (20 << 10)},
		{"an ordinary body, sent whole", 700, 700, 1024},
		{"a body at the limit, sent whole", MaxAttemptBody, MaxAttemptBody, 2 * MaxAttemptBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := strings.Repeat("x", tc.sent)
			// What net/http's body gives when the client stops short of
			// its Content-Length.
			var body io.Reader = strings.NewReader(sent)
			if tc.sent < tc.declared {
				body = io.MultiReader(body, errReader{io.ErrUnexpectedEOF})
			}
			r := httptest.NewRequest("POST", "/v1/score", body)
			r.ContentLength = int64(tc.declared)
			b := make([]byte, 0, 1024) // as bodyPool's, whatever other tests put back
			buf := &b
			data, err := readBodyPooled(httptest.NewRecorder(), r, MaxAttemptBody, buf)
			switch {
			case tc.sent < tc.declared && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Fatalf("err %v, want the body's own", err)
			case tc.sent == tc.declared && (err != nil || !bytes.Equal(data, []byte(sent))):
				t.Fatalf("read %d bytes, err %v; want the %d sent", len(data), err, tc.sent)
			}
			if c := cap(*buf); c > tc.maxCap {
				t.Fatalf("%d bytes arrived of %d declared: a buffer of %d, want at most %d", tc.sent, tc.declared, c, tc.maxCap)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
