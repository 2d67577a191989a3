package stream

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/engine"
)

// TestSecretsStayOutOfDeadLetters refuses messages that carry a secret
// (an attribute that looks like one, a plain password, a password_sha1
// that is not a SHA-1, in JSON and protobuf, on the attempts and the
// outcomes topics, whatever the refusal's reason) between messages
// refused for other reasons: no dead letter holds a trace of a secret
// anywhere in its record, a redacted one holds the marker, keeps the
// other fields and says what was redacted, one that could not be parsed
// is left out whole and says so, and the others are copied verbatim.
func TestSecretsStayOutOfDeadLetters(t *testing.T) {
	c := startCluster(t, 1)
	pbAttempt, err := proto.Marshal(&pb.Attempt{Tenant: "acme", UserId: "u1", Ip: "81.2.69.1", PasswordSha1: "hunter2-proto-sha1",
		Attributes: map[string]string{"app": "web", "api_key": "hunter2-proto-key"}})
	if err != nil {
		t.Fatal(err)
	}
	bigUA := strings.Repeat("m", 70<<10)
	type want struct {
		redacted string // HeaderRedacted; "" for a verbatim copy
		value    string // the dead letter's JSON value, when redacted field by field
		errSays  string
	}
	cases := []struct {
		name, topic, value, ctype string
		want                      want
	}{
		{name: "secret attribute", value: `{"ip":"1.2.3.4","attributes":{"password":"hunter2plain"}}`,
			want: want{"attributes.password", `{"ip":"1.2.3.4","attributes":{"password":"[redacted by riskgate]"}}`, "looks like a secret"}},
		{name: "bad password_sha1", value: `{"tenant":"acme","user_id":"u1","ip":"81.2.69.1","password_sha1":"hunter2-not-a-sha1"}`,
			want: want{"password_sha1", `{"tenant":"acme","user_id":"u1","ip":"81.2.69.1","password_sha1":"[redacted by riskgate]"}`, "password_sha1"}},
		{name: "plain password field", value: `{"tenant":"acme","ip":"81.2.69.1","password":"hunter2-field"}`,
			want: want{"password", `{"tenant":"acme","ip":"81.2.69.1","password":"[redacted by riskgate]"}`, "plain passwords are never accepted"}},
		{name: "secret among others", value: `{"tenant":"acme","user_id":"u1","ip":"81.2.69.1","channel":"web","attributes":{"app":"web","userPin":"hunter2-pin","x":"\u00e9"}}`,
			want: want{"attributes.userPin", `{"tenant":"acme","user_id":"u1","ip":"81.2.69.1","channel":"web","attributes":{"app":"web","userPin":"[redacted by riskgate]","x":"\u00e9"}}`, "looks like a secret"}},
		{name: "refused for its address", value: `{"tenant":"acme","ip":"81.2.69.999","attributes":{"otp":"hunter2-otp"}}`,
			want: want{"attributes.otp", `{"tenant":"acme","ip":"81.2.69.999","attributes":{"otp":"[redacted by riskgate]"}}`, "not an IPv4"}},
		{name: "secret as a number", value: `{"ip":"81.2.69.1","password_sha1":720413}`,
			want: want{"password_sha1", `{"ip":"81.2.69.1","password_sha1":"[redacted by riskgate]"}`, "password_sha1"}},
		{name: "too large", value: `{"attributes":{"secret":"hunter2-big"},"ip":"81.2.69.1","user_agent":"` + bigUA + `"}`,
			want: want{redacted: "attributes.secret", errSays: "larger than"}},
		{name: "truncated", value: `{"ip":"81.2.69.1","password":"hunter2-truncated`,
			want: want{redacted: "message", errSays: "truncated JSON"}},
		{name: "protobuf", value: string(pbAttempt), ctype: "application/x-protobuf",
			want: want{redacted: "password_sha1,attributes.api_key", errSays: "password_sha1"}},
		{name: "outcome", topic: tOutcomes, value: `{"outcome":"login_failed","attempt":{"ip":"81.2.69.1","attributes":{"client_secret":"hunter2-outcome"}}}`,
			want: want{"attempt.attributes.client_secret", `{"outcome":"login_failed","attempt":{"ip":"81.2.69.1","attributes":{"client_secret":"[redacted by riskgate]"}}}`, "looks like a secret"}},
		// Refused for other reasons, without a secret: verbatim.
		{name: "bad address", value: `{"tenant":"acme","ip":"81.2.69.999","attributes":{"app":"web"}}`, want: want{errSays: "not an IPv4"}},
		{name: "unknown field", value: `{"tenant":"acme","ip":"81.2.69.1","colour":"blue"}`, want: want{errSays: "unknown field"}},
		{name: "valid sha1 kept", value: `{"ip":"81.2.69.1","result":"perhaps","password_sha1":"` + sha1Hex + `"}`, want: want{errSays: "unknown result"}},
		{name: "invalid JSON", value: `{"ip":"81.2.69.1","user_id":`, want: want{errSays: "truncated JSON"}},
	}
	var msgs []kafka.Message
	for i, tc := range cases {
		topic := tAttempts
		if tc.topic != "" {
			topic = tc.topic
		}
		m := kafka.Message{Topic: topic, Key: []byte("acme/u1"), Value: []byte(tc.value), Headers: []kafka.Header{{Key: "trace", Value: []byte(strconv.Itoa(i))}}}
		if tc.ctype != "" {
			m.Headers = append(m.Headers, kafka.Header{Key: HeaderContentType, Value: []byte(tc.ctype)})
		}
		msgs = append(msgs, m)
	}
	produce(t, c, msgs...)
	r := start(t, testOptions(c), NewTestEngine(t, engine.Options{}))
	dead := readTopic(t, c, tDead, len(cases))
	r.stop(t)

	byTrace := map[string]kafka.Message{}
	for _, m := range dead {
		byTrace[header(m, "trace")] = m
	}
	redacted := 0
	for i, tc := range cases {
		m, ok := byTrace[strconv.Itoa(i)]
		if !ok {
			t.Fatalf("%s: no dead letter", tc.name)
		}
		// The whole record: key, value, every header's key and value.
		record := [][]byte{m.Key, m.Value}
		for _, h := range m.Headers {
			record = append(record, []byte(h.Key), h.Value)
		}
		for _, b := range record {
			if bytes.Contains(b, []byte("hunter2")) || bytes.Contains(b, []byte("720413")) {
				t.Errorf("%s: the dead letter holds a secret: %.200q", tc.name, b)
			}
		}
		if got := header(m, HeaderError); !strings.Contains(got, tc.want.errSays) {
			t.Errorf("%s: error %q, want it to say %q", tc.name, got, tc.want.errSays)
		}
		if got := header(m, HeaderRedacted); got != tc.want.redacted {
			t.Errorf("%s: %s %q, want %q", tc.name, HeaderRedacted, got, tc.want.redacted)
		}
		if string(m.Key) != "acme/u1" || header(m, HeaderOriginalOffset) == "" {
			t.Errorf("%s: key %q, headers %v", tc.name, m.Key, m.Headers)
		}
		switch {
		case tc.want.redacted == "":
			if string(m.Value) != tc.value {
				t.Errorf("%s: dead letter %q, want the original %q", tc.name, m.Value, tc.value)
			}
			continue
		case tc.want.redacted == "message":
			if len(m.Value) != 0 {
				t.Errorf("%s: value %q, want it left out", tc.name, m.Value)
			}
		case tc.want.value != "":
			if string(m.Value) != tc.want.value || !json.Valid(m.Value) {
				t.Errorf("%s: dead letter %s, want %s", tc.name, m.Value, tc.want.value)
			}
		}
		redacted++
	}
	// The message too large to score: redacted, then cut.
	big := byTrace[strconv.Itoa(6)]
	if !bytes.HasPrefix(big.Value, []byte(`{"attributes":{"secret":"[redacted by riskgate]"},"ip":"81.2.69.1","user_agent":"mmm`)) ||
		len(big.Value) != deadLetterValueMax || header(big, HeaderTruncatedFrom) == "" {
		t.Errorf("too large: %d bytes %.100q, %s %q", len(big.Value), big.Value, HeaderTruncatedFrom, header(big, HeaderTruncatedFrom))
	}
	// The protobuf attempt: encoded again, its other fields kept.
	var a pb.Attempt
	if err := proto.Unmarshal(byTrace[strconv.Itoa(8)].Value, &a); err != nil || a.PasswordSha1 != RedactedMarker ||
		a.Attributes["api_key"] != RedactedMarker || a.Attributes["app"] != "web" || a.Ip != "81.2.69.1" || a.UserId != "u1" {
		t.Errorf("protobuf dead letter: %v (%v)", &a, err)
	}
	n := testutil.ToFloat64(r.m.redacted.WithLabelValues(tAttempts)) + testutil.ToFloat64(r.m.redacted.WithLabelValues(tOutcomes))
	if int(n) != redacted {
		t.Errorf("redacted_total = %v, want %d", n, redacted)
	}
}
