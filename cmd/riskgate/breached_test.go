package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/breached/hibpgen"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// TestBreachedBuildBinary runs `riskgate breached build` on the downloader's
// layouts and on bad input, as an operator would.
func TestBreachedBuildBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	folder := filepath.Join(dir, "pwnedpasswords")
	if err := hibpgen.WriteFolder(folder, hibpgen.Options{Ranges: 512, Lines: 20000, Seed: 7, Plant: map[string]uint64{"Winter2026!": 40}}); err != nil {
		t.Fatal(err)
	}
	ntlm := filepath.Join(dir, "pwnedpasswords_ntlm.txt")
	os.WriteFile(ntlm, []byte(strings.Repeat(strings.Repeat("A", 32)+":7\r\n", 100)), 0o644)
	damaged := filepath.Join(dir, "damaged.txt")
	var b strings.Builder
	for i := range 2000 {
		if i == 1500 {
			b.WriteString("<html>\n<body>502 Bad Gateway</body>\n</html>\n")
		}
		fmt.Fprintf(&b, "%X:%d\n", sha1.Sum([]byte(fmt.Sprint(i))), i+1)
	}
	os.WriteFile(damaged, []byte(b.String()), 0o644)

	out := filepath.Join(dir, "pwned.rgbf")
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want string
	}{
		{"an incomplete folder", []string{folder}, false, "of the 1048576 range files are missing (the first is 00200.txt)"},
		{"a partial folder", []string{"--partial", folder}, true, "read as hibp range files"},
		{"NTLM", []string{ntlm}, false, "NTLM hashes"},
		{"a damaged dump", []string{damaged}, false, "damaged.txt: 3 of 2003 lines are malformed, more than the 0.1% allowed (--max-malformed); the first is line 1501"},
		{"a damaged dump, accepted", []string{"--max-malformed", "0.01", damaged}, true, "3 malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"breached", "build", "-o", out}, tc.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			all := string(stdout) + stderr.String()
			if (err == nil) != tc.ok || !strings.Contains(all, tc.want) {
				t.Fatalf("exit %v, output:\n%s\nwant ok=%v and %q", err, all, tc.ok, tc.want)
			}
			// Not a terminal: no progress bar.
			if strings.Contains(stderr.String(), "\r") || strings.Contains(stderr.String(), "lines/s") {
				t.Errorf("progress drawn on a pipe:\n%q", stderr.String())
			}
		})
	}
}

// TestServeSurvivesRewrittenFiles is the operator's mistake through the real
// binary: while /v1/score is under load, the breached-password filter and
// the GeoIP databases are truncated and rewritten in place (`: > F`, `cp`),
// then a filter with a corrupt body is renamed in. Before private snapshots
// the process died of SIGBUS at the next lookup. It must keep answering
// with the data it had, pick up a valid replacement, and refuse the corrupt
// one.
func TestServeSurvivesRewrittenFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "geoip"), 0o755)
	geo, err := geoipgen.Write(filepath.Join(dir, "geoip"))
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "pwnedpasswords")
	if err := hibpgen.WriteFolder(folder, hibpgen.Options{Ranges: 256, Lines: 5000, Seed: 8, Plant: map[string]uint64{"Winter2026!": 40}}); err != nil {
		t.Fatal(err)
	}
	filter := filepath.Join(dir, "pwned.rgbf")
	if out, err := exec.Command(bin, "breached", "build", "--partial", "--kind", "fuse16", "-o", filter, folder).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	next := filepath.Join(dir, "next.rgbf")
	nextList := filepath.Join(dir, "next.txt")
	os.WriteFile(nextList, []byte("Summer2026!\n"), 0o644)
	if out, err := exec.Command(bin, "breached", "build", "-o", next, nextList).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p := startBinary(t, bin, nil, "--breached", filter, "--geoip-city", geo.City, "--geoip-asn", geo.ASN, "--geoip-cache-size", "0")
	score := func(ip, password string) (status, city string, asn float64, err error) {
		h := sha1.Sum([]byte(password))
		body := fmt.Sprintf(`{"user_id":"u-%s","ip":%q,"password_sha1":%q}`, password, ip, hex.EncodeToString(h[:]))
		resp, err := http.Post("http://"+p.http+"/v1/score", "application/json", strings.NewReader(body))
		if err != nil {
			return "", "", 0, err
		}
		defer resp.Body.Close()
		var d struct {
			Signals struct {
				Password struct{ Status string }
				Geo      struct{ City string }
				ASN      struct{ Number float64 }
			}
		}
		if resp.StatusCode != 200 {
			return "", "", 0, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		err = json.NewDecoder(resp.Body).Decode(&d)
		return d.Signals.Password.Status, d.Signals.Geo.City, d.Signals.ASN.Number, err
	}
	// The bundled list and the file both apply.
	for pw, want := range map[string]string{"Winter2026!": "breached", "123456": "breached", "x7#Lq!vQ2pZ9": "clean"} {
		if st, _, _, err := score("81.2.69.10", pw); err != nil || st != want {
			t.Fatalf("%s: %q, %v; want %s", pw, st, err, want)
		}
	}

	// Load: every answer must be the old data until a valid file is in.
	var replaced atomic.Bool
	var requests, wrong atomic.Uint64
	var firstWrong atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ip := fmt.Sprintf("81.2.69.%d", (w*64+i)%250+1) // Paris, Orange
				st, city, asn, err := score(ip, "Winter2026!")
				requests.Add(1)
				if err != nil || city != "Paris" || asn != 3215 || st != "breached" && !replaced.Load() {
					wrong.Add(1)
					firstWrong.CompareAndSwap(nil, fmt.Sprintf("%s: status %q city %q asn %v err %v", ip, st, city, asn, err))
				}
			}
		})
	}
	stopLoad := func() { close(stop); wg.Wait() }
	defer func() {
		if stop != nil {
			stopLoad()
		}
	}()
	reloadFailures := func() float64 {
		return metric(t, p, "riskgate_breached_reload_failures_total") + metric(t, p, "riskgate_geoip_reload_failures_total")
	}
	cityBytes, _ := os.ReadFile(geo.City)
	for i, step := range []struct {
		name string
		do   func() error
	}{
		{"filter truncated", func() error { return exec.Command("sh", "-c", ": > "+filter).Run() }},
		{"city database truncated", func() error { return exec.Command("sh", "-c", ": > "+geo.City).Run() }},
		{"ASN database truncated", func() error { return os.Truncate(geo.ASN, 0) }},
		{"city database half copied", func() error { return os.WriteFile(geo.City, cityBytes[:len(cityBytes)/2], 0o644) }},
		{"filter overwritten with zeros", func() error { return os.WriteFile(filter, make([]byte, 4096), 0o644) }},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, p, step.name+" refused", func() bool { return reloadFailures() >= float64(i+1) })
		before := requests.Load()
		waitUntil(t, p, "requests after "+step.name, func() bool { return requests.Load() > before+20 })
	}
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d of %d answers did not come from the previous data while the files were damaged; first: %v\n%s", n, requests.Load(), firstWrong.Load(), p.logs())
	}
	// A valid filter copied over the file in place is picked up.
	replaced.Store(true)
	if out, err := exec.Command("cp", next, filter).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	waitUntil(t, p, "the copied filter", func() bool { st, _, _, _ := score("81.2.69.1", "Summer2026!"); return st == "breached" })
	stopLoad()
	stop = nil
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d wrong answers; first: %v", n, firstWrong.Load())
	}

	// A replacement with one flipped body byte is refused, whether it is
	// renamed in or written in place, and the filter in use stays.
	good, _ := os.ReadFile(next)
	corrupt := flipBodyByte(t, good)
	failures := metric(t, p, "riskgate_breached_reload_failures_total")
	tmp := filepath.Join(dir, ".pwned.rgbf.tmp")
	os.WriteFile(tmp, corrupt, 0o644)
	if err := os.Rename(tmp, filter); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, p, "the corrupt filter refused", func() bool { return metric(t, p, "riskgate_breached_reload_failures_total") > failures })
	if st, _, _, err := score("81.2.69.1", "Summer2026!"); err != nil || st != "breached" {
		t.Errorf("after a corrupt replacement: %q %v, want the previous filter answering", st, err)
	}
	if !strings.Contains(p.logs(), "body checksum mismatch") {
		t.Errorf("the refusal does not say why:\n%s", p.logs())
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, p.logs())
	}
}

// TestNoBuiltinBreached: --no-builtin-breached (and its variable) leaves
// only the operator's file.
func TestNoBuiltinBreached(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("Winter2026!\n"), 0o644)
	filter := filepath.Join(dir, "f.rgbf")
	if out, err := exec.Command(bin, "breached", "build", "-o", filter, list).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want map[string]string
	}{
		// Both lists applying by default is TestServeSurvivesRewrittenFiles.
		{"flag", nil, []string{"--breached", filter, "--no-builtin-breached"}, map[string]string{"hunter2": "clean", "Winter2026!": "breached"}},
		{"environment", []string{"RISKGATE_NO_BUILTIN_BREACHED=true"}, []string{"--breached", filter}, map[string]string{"hunter2": "clean", "Winter2026!": "breached"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startBinary(t, bin, tc.env, tc.args...)
			for pw, want := range tc.want {
				h := sha1.Sum([]byte(pw))
				body := fmt.Sprintf(`{"user_id":"u","ip":"81.2.69.10","password_sha1":%q}`, hex.EncodeToString(h[:]))
				resp, err := http.Post("http://"+p.http+"/v1/score", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				var d struct {
					Signals struct{ Password struct{ Status string } }
				}
				json.NewDecoder(resp.Body).Decode(&d)
				resp.Body.Close()
				if d.Signals.Password.Status != want {
					t.Errorf("%s: %q, want %s", pw, d.Signals.Password.Status, want)
				}
			}
			p.stop(t)
		})
	}
}

// flipBodyByte flips a bit at the start of a filter's body, past the
// header, so that only the body checksum can tell.
func flipBodyByte(t *testing.T, b []byte) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.rgbf")
	out := append([]byte(nil), b...)
	hdr := int(uint32(out[12]) | uint32(out[13])<<8 | uint32(out[14])<<16 | uint32(out[15])<<24)
	body := (hdr + 63) &^ 63
	out[body] ^= 0x10 // the first body byte: the end may be alignment padding
	os.WriteFile(path, out, 0o644)
	if _, err := breached.ReadInfo(path, false); err != nil {
		t.Fatalf("the header broke: %v", err)
	}
	if _, err := breached.ReadInfo(path, true); err == nil {
		t.Fatal("the flipped byte is not covered by a checksum")
	}
	return out
}

// metric reads one unlabelled sample from /metrics.
func metric(t *testing.T, p *process, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v\n%s", err, p.logs())
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	for line := range strings.SplitSeq(buf.String(), "\n") {
		var v float64
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

// waitUntil polls cond, failing with the server's log if it never holds or
// the server exits.
func waitUntil(t *testing.T, p *process, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case err := <-p.done:
			t.Fatalf("riskgate exited (%v) waiting for %s:\n%s", err, what, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, p.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
