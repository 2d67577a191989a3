package server_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"
)

// TestHTTPRefusesContentEncoding: a body with a content coding is a 415
// that names the header, whatever the route, rather than a JSON syntax
// error at byte 1 (gzip) or a body read as if it were not encoded.
func TestHTTPRefusesContentEncoding(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"ip":"81.2.69.160"}`))
	_ = zw.Close()

	cases := []struct {
		name, method, path, ctype, encoding, body string
		code                                      int
	}{
		{"score, gzip", "POST", "/v1/score", "application/json", "gzip", gz.String(), 415},
		{"score, br on a plain body", "POST", "/v1/score", "application/json", "br", `{"ip":"81.2.69.160"}`, 415},
		{"score, identity then gzip", "POST", "/v1/score", "application/json", "identity, gzip", gz.String(), 415},
		{"outcome, deflate", "POST", "/v1/outcome", "application/json", "deflate", `{"decision_id":"x","outcome":"login_failed"}`, 415},
		{"rules YAML, gzip", "PUT", "/v1/rules", "application/yaml", "gzip", gz.String(), 415},
		{"score, identity", "POST", "/v1/score", "application/json", "identity", `{"ip":"81.2.69.160"}`, 200},
		{"score, IDENTITY", "POST", "/v1/score", "application/json", "IDENTITY", `{"ip":"81.2.69.160"}`, 200},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, ts.url(c.path), strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", c.ctype)
		req.Header.Set("Content-Encoding", c.encoding)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		decodeBody(t, resp, &e)
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d %+v, want %d", c.name, resp.StatusCode, e.Error, c.code)
			continue
		}
		if c.code != 415 {
			continue
		}
		if e.Error.Code != "unsupported_media_type" || !strings.Contains(e.Error.Message, "Content-Encoding") {
			t.Errorf("%s: error %+v, want unsupported_media_type naming Content-Encoding", c.name, e.Error)
		}
		if got := resp.Header.Get("Accept-Encoding"); got != "identity" {
			t.Errorf("%s: Accept-Encoding %q, want identity", c.name, got)
		}
	}
}
