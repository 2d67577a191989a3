package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// runGeoCLI runs the riskgate command line in-process, as main does.
func runGeoCLI(t *testing.T, args ...string) error {
	t.Helper()
	var c cli
	k, err := kong.New(&c, kong.Name("riskgate"), kong.BindTo(context.Background(), (*context.Context)(nil)),
		kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := k.Parse(args)
	if err != nil {
		return err
	}
	return kctx.Run()
}

// TestReplayWithGeoIP replays attempts through `riskgate replay
// --geoip-city F --geoip-asn F` and checks that the decisions were located
// by the databases: an IPv4 and an IPv6 login in Paris, then one from
// Sydney two hours later.
func TestReplayWithGeoIP(t *testing.T) {
	dir := t.TempDir()
	p, err := geoipgen.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.jsonl")
	out := filepath.Join(dir, "out.jsonl")
	lines := []string{
		`{"attempt_id":"a1","time":"2026-05-01T09:00:00Z","user_id":"u1","username":"alice","ip":"81.2.69.160","device_id":"d1","result":"password_ok"}`,
		`{"attempt_id":"a2","time":"2026-05-02T09:00:00Z","user_id":"u1","username":"alice","ip":"2a01:cb00::1","device_id":"d1","result":"password_ok"}`,
		`{"attempt_id":"a3","time":"2026-05-02T11:00:00Z","user_id":"u1","username":"alice","ip":"1.128.0.1","device_id":"d1","result":"password_ok"}`,
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runGeoCLI(t, "replay", "--in", in, "--out", out, "--geoip-city", p.City, "--geoip-asn", p.ASN); err != nil {
		t.Fatal(err)
	}
	type decision struct {
		AttemptID string `json:"attempt_id"`
		Action    string `json:"action"`
		Signals   struct {
			Geo struct {
				Source           string  `json:"source"`
				Country          string  `json:"country"`
				City             string  `json:"city"`
				AccuracyKM       float64 `json:"accuracy_km"`
				ImpossibleTravel bool    `json:"impossible_travel"`
			} `json:"geo"`
			ASN struct {
				Number int    `json:"number"`
				Org    string `json:"org"`
			} `json:"asn"`
		} `json:"signals"`
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []decision
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if len(got) != 3 {
		t.Fatalf("%d decisions", len(got))
	}
	for _, d := range got[:2] {
		g := d.Signals.Geo
		if g.Source != "geoip" || g.City != "Paris" || g.Country != "FR" || g.AccuracyKM != 20 || d.Signals.ASN.Number != 3215 || d.Action != "allow" {
			t.Errorf("%s: %+v", d.AttemptID, d)
		}
	}
	if d := got[2]; d.Signals.Geo.City != "Sydney" || !d.Signals.Geo.ImpossibleTravel || d.Action != "step_up" || d.Signals.ASN.Org != "Telstra Limited" {
		t.Errorf("a3: %+v", d)
	}
}

// TestGeoFlagErrors: a database in the wrong role, or a bad list line, is
// a start-up error naming the file.
func TestGeoFlagErrors(t *testing.T) {
	dir := t.TempDir()
	p, err := geoipgen.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	badList := filepath.Join(dir, "corp.txt")
	if err := os.WriteFile(badList, []byte("10.0.0.0/8\n10.0.0.0/40\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--geoip-city", p.ASN}, "geoip: open city database " + p.ASN + `: database type "GeoLite2-ASN" is an ASN database; want a city database`},
		{[]string{"--geoip-asn", p.City}, "geoip: open ASN database " + p.City},
		{[]string{"--geoip-city", filepath.Join(dir, "missing.mmdb")}, "no such file"},
		{[]string{"--ip-list", "corp=" + badList}, badList + ":2: not a CIDR prefix"},
		{[]string{"--tor-exits", badList}, badList + ":2:"},
	} {
		err := runGeoCLI(t, append([]string{"replay", "--in", in, "--out", filepath.Join(dir, "out.jsonl")}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	// Both DB-IP Lite files, the lists and the Tor list from the
	// environment, as a container would set them.
	good := filepath.Join(dir, "tor.txt")
	if err := os.WriteFile(good, []byte("185.220.101.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RISKGATE_GEOIP_CITY", p.DBIPCityV4+","+p.DBIPCityV6)
	t.Setenv("RISKGATE_TOR_EXITS", good)
	t.Setenv("RISKGATE_IP_LISTS", "tor_too="+good)
	two := filepath.Join(dir, "two.jsonl")
	if err := os.WriteFile(two, []byte(`{"time":"2026-05-01T09:00:00Z","username":"a","ip":"2a01:cb00::1"}`+"\n"+
		`{"time":"2026-05-01T09:00:00Z","username":"b","ip":"185.220.101.3"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "env.jsonl")
	if err := runGeoCLI(t, "replay", "--in", two, "--out", out); err != nil {
		t.Fatalf("environment configuration: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	outs := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(outs) != 2 || !strings.Contains(outs[0], `"source":"geoip"`) || !strings.Contains(outs[0], `"city":"Paris"`) ||
		!strings.Contains(outs[1], `"lists":["tor_too"]`) || !strings.Contains(outs[1], `"tor":true`) {
		t.Errorf("environment configuration not applied:\n%s", data)
	}
}
