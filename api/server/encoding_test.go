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
		resp, e := sendBody(t, ts, c.method, c.path, c.body, "Content-Type", c.ctype, "Content-Encoding", c.encoding)
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

// TestHTTPRefusesCharsets: JSON is UTF-8 (RFC 8259), and the API reads
// every body as UTF-8: a body declared in another charset is a 415 naming
// it, whatever the route, rather than read as if it were UTF-8 (a latin1
// "é" refused as invalid UTF-8, or taken as other characters). utf-8 is
// taken in any case, quoted or not.
func TestHTTPRefusesCharsets(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	const attempt = `{"ip":"81.2.69.160"}`
	cases := []struct {
		name, method, path, ctype, body string
		code                            int
		charset                         string // named in the 415's message
	}{
		{"score, latin1", "POST", "/v1/score", "application/json; charset=latin1", attempt, 415, "latin1"},
		{"score, quoted ISO-8859-1", "POST", "/v1/score", `application/json; charset="ISO-8859-1"`, attempt, 415, "ISO-8859-1"},
		{"score, utf-16", "POST", "/v1/score", "application/json;charset=utf-16", attempt, 415, "utf-16"},
		{"score, utf8 without the dash", "POST", "/v1/score", "application/json; charset=utf8", attempt, 415, "utf8"},
		{"score, a +json type in latin1", "POST", "/v1/score", "application/vnd.riskgate+json; charset=latin1", attempt, 415, "latin1"},
		{"outcome, latin1", "POST", "/v1/outcome", "application/json; charset=latin1", `{"decision_id":"x","outcome":"login_failed"}`, 415, "latin1"},
		{"rules put, windows-1252", "PUT", "/v1/rules", "application/json; charset=windows-1252", `{"files":[]}`, 415, "windows-1252"},
		{"rules test, latin1", "POST", "/v1/rules:test", "application/json; charset=latin1", `{"attempt":` + attempt + `}`, 415, "latin1"},
		{"backtest, latin1", "POST", "/v1/rules:backtest", "application/json; charset=latin1", `{}`, 415, "latin1"},
		{"score, utf-8", "POST", "/v1/score", "application/json; charset=utf-8", attempt, 200, ""},
		{"score, UTF-8 quoted", "POST", "/v1/score", `application/json; charset="UTF-8"`, attempt, 200, ""},
		{"score, Utf-8 and another parameter", "POST", "/v1/score", "application/json; profile=x; charset=Utf-8", attempt, 200, ""},
		{"outcome, utf-8", "POST", "/v1/outcome", "application/json; charset=utf-8", `{"decision_id":"x","outcome":"login_failed"}`, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, e := sendBody(t, ts, c.method, c.path, c.body, "Content-Type", c.ctype)
			if resp.StatusCode != c.code {
				t.Fatalf("%d %+v, want %d", resp.StatusCode, e.Error, c.code)
			}
			if c.code != 415 {
				return
			}
			if e.Error.Code != "unsupported_media_type" || !strings.Contains(e.Error.Message, `charset "`+c.charset+`"`) {
				t.Errorf("error %+v, want unsupported_media_type naming charset %q", e.Error, c.charset)
			}
		})
	}
}

// sendBody sends body to path as the admin, with the headers given as
// name, value pairs, and decodes the answer's error, if any.
func sendBody(t *testing.T, ts *testServer, method, path, body string, headers ...string) (*http.Response, apiError) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e apiError
	decodeBody(t, resp, &e)
	return resp, e
}
