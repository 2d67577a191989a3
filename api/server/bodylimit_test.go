package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOversizedBodyWithExpectContinue: a client that announces a body over
// the limit and waits for "100 Continue" (curl does, for bodies over 1 MB)
// gets the 413 at once, not a 100 Continue followed by a reset connection
// once the limit is crossed.
func TestOversizedBodyWithExpectContinue(t *testing.T) {
	ts := startServer(t, testOpts{})
	for _, path := range []string{"/v1/score", "/v1/outcome"} {
		conn, err := net.Dial("tcp", ts.addrs.HTTP)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: riskgate\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, 3<<20)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var e apiError
		decodeBody(t, resp, &e)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || e.Error.Code != "too_large" {
			t.Errorf("%s: %d %+v, want 413 too_large", path, resp.StatusCode, e.Error)
		}
	}
}

// TestTypeErrorsNameJSONNotGo: a value of the wrong JSON type is named in
// JSON's words, never by a Go type.
func TestTypeErrorsNameJSONNotGo(t *testing.T) {
	ts := startServer(t, testOpts{})
	for body, want := range map[string]string{
		`[]`: "request body: want a JSON object, got JSON array",
		// Not an object says so first, however deep it nests: past
		// wire.MaxDepth it was "message: nested deeper than 100 levels".
		strings.Repeat("[", 101) + strings.Repeat("]", 101):     "request body: want a JSON object, got JSON array",
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000): "request body: want a JSON object, got JSON array",
		`"81.2.69.160"`: "request body: want a JSON object, got JSON string",
		`null`:          "request body: want a JSON object, got JSON null",
		`true`:          "request body: want a JSON object, got JSON bool",
		`{"ip":"81.2.69.160","geo":{"lat":"north"}}`: "geo.lat: want a number, got JSON string",
		`{"ip":"81.2.69.160","username":7}`:          "username: want a JSON string, got JSON number",
		`{"ip":"81.2.69.160","attributes":[]}`:       "attributes: want a JSON object, got JSON array",
	} {
		resp, err := http.Post(ts.url("/v1/score"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		decodeBody(t, resp, &e)
		if resp.StatusCode != http.StatusBadRequest || e.Error.Message != want {
			t.Errorf("%.60s: %d %q, want 400 %q", body, resp.StatusCode, e.Error.Message, want)
		}
	}
}
