package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/riskgate/riskgate/api/apierr"
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// errorBody is the JSON of every error response.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Field   string            `json:"field,omitempty"`
	Details []ruleProblemJSON `json:"details,omitempty"`
}

// ruleProblemJSON is one problem of a rejected ruleset, from the rules'
// own data: the file as the request named it, the line, the rule and its
// field, and the message that says all of it.
type ruleProblemJSON struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func problemsJSON(ps []rules.Problem) []ruleProblemJSON {
	out := make([]ruleProblemJSON, len(ps))
	for i, p := range ps {
		out[i] = ruleProblemJSON{File: p.File, Line: p.Line, Rule: p.Rule, Field: p.Field, Message: p.Error.Error()}
	}
	return out
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	WriteJSON(w, status, errorBody{Error: errorJSON{Code: code, Message: msg, Field: field}})
}

// fail writes err as a JSON error, logging internal ones.
func (a *API) fail(w http.ResponseWriter, err error) {
	e := apierr.Classify(err)
	status := apierr.HTTPStatus(e.Code)
	if status >= 500 {
		a.Log.Error("http request failed", "err", err)
	}
	WriteJSON(w, status, errorBody{Error: errorJSON{
		Code: apierr.CodeName(e.Code), Message: e.Public(), Field: e.Field, Details: problemsJSON(e.Details),
	}})
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteJSON encodes v in full before writing, so that an encoding error is a
// clean 500 rather than half a body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	buf.Reset()
	setJSONHeaders(w.Header())
	if d, ok := v.(*engine.Decision); ok {
		// Every Score's body: the generated encoder, same bytes.
		if b, ok := appendDecisionJSON(buf.AvailableBuffer(), d); ok {
			buf.Write(append(b, '\n'))
			w.WriteHeader(status)
			_, _ = w.Write(buf.Bytes())
			return
		}
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // JSON, not HTML: "<token>" reads as written
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// The values of the headers of every JSON answer, shared: net/http only
// reads them, and Header.Set would make each anew.
var (
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

func setJSONHeaders(h http.Header) {
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = noSniff
}

// contentLengths are Content-Length values shared by every answer of
// their length (net/http reads a header's values, never writes them), made
// on first use, so that an answer's length costs no allocation.
var contentLengths [8 << 10]atomic.Pointer[[]string]

func contentLength(n int) []string {
	if n < 0 || n >= len(contentLengths) {
		return []string{strconv.Itoa(n)}
	}
	if v := contentLengths[n].Load(); v != nil {
		return *v
	}
	v := []string{strconv.Itoa(n)}
	contentLengths[n].Store(&v)
	return v
}

// decisionBufs are writeDecision's buffers.
var decisionBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeDecision is WriteJSON(w, http.StatusOK, d) without the any, through
// which d would escape to the heap.
func writeDecision(w http.ResponseWriter, d *engine.Decision) {
	buf := decisionBufs.Get().(*[]byte)
	b, ok := appendDecisionJSON((*buf)[:0], d)
	if !ok {
		decisionBufs.Put(buf)
		copied := *d                         // only this path lets a Decision escape
		WriteJSON(w, http.StatusOK, &copied) // encoding/json's answer, or its 500
		return
	}
	b = append(b, '\n')
	h := w.Header()
	setJSONHeaders(h)
	// A decision with its signals is about 2.6 KB, more than net/http
	// buffers before it chunks the answer: a length of our own spares the
	// chunk framing (an fmt call per answer) and the client's parsing of it.
	h["Content-Length"] = contentLength(len(b))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*buf = b
		decisionBufs.Put(buf)
	}
}

// requestError is a bad request body, with the field when known.
type requestError struct {
	status int
	code   string
	msg    string
	field  string
}

func (e *requestError) Error() string { return e.msg }

func (a *API) failRequest(w http.ResponseWriter, err error) {
	var re *requestError
	if errors.As(err, &re) {
		writeError(w, re.status, re.code, re.msg, re.field)
		return
	}
	a.fail(w, err)
}

// errNotJSON is the answer to a body of another type than JSON.
var errNotJSON = &requestError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json", ""}

// checkJSON accepts application/json (or a +json type) and, for clients
// that send none, no Content-Type at all. A charset parameter must be
// utf-8, in any case, quoted or not: JSON is UTF-8 (RFC 8259 8.1), and a
// body declared latin1 or UTF-16 was read as UTF-8 all the same, its
// accented letters refused as invalid UTF-8 or, in a latin1 body that
// happened to be valid UTF-8, scored as other characters than the client
// meant. Other parameters are ignored.
func checkJSON(r *http.Request) error {
	ct := headerValue(r.Header, "Content-Type")
	if ct == "" || ct == "application/json" {
		return nil // the usual case, without ParseMediaType's map
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errNotJSON
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &requestError{http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("Content-Type charset %.40q is not supported: JSON is UTF-8 (RFC 8259); send charset=utf-8, or no charset", cs), ""}
	}
	return nil
}

// headerValue is h.Get(key) for a key already in canonical form: the same
// lookup without canonicalizing the key again (~270 instructions a call
// in callgrind).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// decode reads one JSON value of at most limit bytes into v: unknown
// fields, trailing data and oversized bodies are errors naming what is
// wrong. required is the field a request cannot do without, named when
// the body is empty: a caller who sent none (curl -X POST) learns what to
// send, not only that JSON was expected.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any, required string) error {
	if err := checkJSON(r); err != nil {
		return err
	}
	data, err := readBody(w, r, limit)
	if err != nil {
		return jsonError(err, limit)
	}
	if err := requireBody(data, required); err != nil {
		return err
	}
	return decodeData(data, limit, v)
}

// requireBody refuses an empty body (or one of white space only) of a
// request that needs the field required, naming it.
func requireBody(data []byte, required string) error {
	var we *wire.Error
	if err := wire.RequireBody(data, "request body", required); errors.As(err, &we) {
		return &requestError{http.StatusBadRequest, "invalid_argument", we.Msg, we.Field}
	}
	return nil
}

// decodeOptional is decode for a request whose every field is optional:
// an empty body leaves v as it is, as {} would; with Content-Length 0
// whatever its Content-Type (curl -d "" says form data, and sends none).
// Anything else, white space included, is decoded, or refused naming what
// is wrong, as decode does.
func decodeOptional(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	if err := checkJSON(r); err != nil {
		return err
	}
	data, err := readBody(w, r, limit)
	if err != nil {
		return jsonError(err, limit)
	}
	if len(data) == 0 { // chunked, without a chunk
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// decode's "empty" would contradict an empty body's being fine.
		return &requestError{http.StatusBadRequest, "invalid_argument", "request body: only white space, want a JSON object or no body at all", ""}
	}
	return decodeData(data, limit, v)
}

// decodeData is decode after the body is read.
func decodeData(data []byte, limit int64, v any) error {
	// The same strictness as the streams: invalid UTF-8, a key given
	// twice and a name in the wrong case are refused, naming the field.
	var we *wire.Error
	if err := wire.CheckJSON(data); errors.As(err, &we) {
		msg := we.Msg
		if we.Field == "" {
			// The body as a whole, which the API calls so ("request
			// body: want a JSON object, got JSON array"), not "message".
			msg = "request body" + strings.TrimPrefix(msg, "message")
		}
		return &requestError{http.StatusBadRequest, "invalid_argument", msg, we.Field}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// encoding/json names an unknown field without its path.
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			path := wire.UnknownFieldPath(data, reflect.TypeOf(v), strings.Trim(name, `"`))
			return &requestError{http.StatusBadRequest, "invalid_argument", engine.UnknownField(path), path}
		}
		return jsonError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err, limit)
		}
		return &requestError{http.StatusBadRequest, "invalid_argument", "request body: data after the JSON value", ""}
	}
	return nil
}

// readBody reads a request body of at most limit bytes. A body whose
// declared length is over the limit is refused before any of it is read:
// a client that sent "Expect: 100-continue" (curl does, for large bodies)
// then gets the 413 instead of a 100 Continue followed by a reset
// connection.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := plainBody(w, r); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

// bodyUpFront is the most a body's buffer is made ready for before its
// bytes arrive (readBodyPooled): more than any ordinary attempt, so that
// one is read into a single allocation, and little enough that a client
// declaring a large body and sending none of it holds little.
const bodyUpFront = 4 << 10

// bodyPool holds buffers for Score's bodies, which are read whole and
// decoded into copies: a body is garbage as soon as it is decoded.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readBodyPooled is readBody into a buffer of bodyPool: the caller puts
// *buf back when done with the bytes returned.
func readBodyPooled(w http.ResponseWriter, r *http.Request, limit int64, buf *[]byte) ([]byte, error) {
	if err := plainBody(w, r); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body := r.Body
	if r.ContentLength < 0 {
		// Chunked: no length to trust. With a Content-Length, net/http's
		// body reader stops at it, which is within the limit.
		body = http.MaxBytesReader(w, r.Body, limit)
	}
	b := (*buf)[:0]
	// +1: room to see the EOF without growing. The declared length is
	// trusted only up to bodyUpFront: past it the buffer grows as the
	// bytes come, so that a client that declares 64 KiB and sends a byte
	// (and may wait the whole request timeout) holds no more than its
	// bytes and bodyUpFront, however many connections it opens.
	if n := min(int(r.ContentLength)+1, bodyUpFront); n > cap(b) {
		b = make([]byte, 0, n)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*buf = b
			return b, nil
		}
		if err != nil {
			*buf = b
			return nil, err
		}
	}
}

// plainBody refuses a body sent with a content coding (RFC 9110 8.4: 415,
// saying which codings are accepted). The API reads bodies as they are: a
// gzipped attempt was "invalid JSON at byte 1: invalid character '\x1f'",
// and one marked "br" but sent plain was read as if the header were absent.
func plainBody(w http.ResponseWriter, r *http.Request) error {
	for _, v := range r.Header["Content-Encoding"] {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				w.Header().Set("Accept-Encoding", "identity")
				return &requestError{http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf("Content-Encoding %.40q is not supported: send the body uncompressed", c), ""}
			}
		}
	}
	return nil
}

func jsonError(err error, limit int64) error {
	var (
		re  *requestError
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &re):
		return re
	case errors.As(err, &mbe):
		return &requestError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body larger than %d bytes", limit), ""}
	case errors.Is(err, io.EOF):
		return &requestError{http.StatusBadRequest, "invalid_argument", "request body: empty, want a JSON object", ""}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &requestError{http.StatusBadRequest, "invalid_argument", "request body: truncated JSON", ""}
	case errors.As(err, &se):
		return &requestError{http.StatusBadRequest, "invalid_argument", fmt.Sprintf("request body: invalid JSON at byte %d: %v", se.Offset, se), ""}
	case errors.As(err, &te):
		field := te.Field
		return &requestError{http.StatusBadRequest, "invalid_argument", fmt.Sprintf("%s: want %s, got JSON %s", orBody(field), wire.JSONKind(te.Type), te.Value), field}
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &requestError{http.StatusBadRequest, "invalid_argument", engine.UnknownField(name), name}
	}
	return &requestError{http.StatusBadRequest, "invalid_argument", "request body: " + err.Error(), ""}
}

func orBody(field string) string {
	if field == "" {
		return "request body"
	}
	return field
}

// putBody returns a buffer of readBodyPooled to the pool, unless a large
// body made it too big to keep.
func putBody(buf *[]byte) {
	if cap(*buf) <= 16<<10 {
		bodyPool.Put(buf)
	}
}
