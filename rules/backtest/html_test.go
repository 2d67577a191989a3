package backtest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's headless browser. CI installs it and sets
// RISKGATE_REQUIRE_CHROMIUM=1, so that a missing browser fails the test
// rather than skipping it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("RISKGATE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium is not installed and RISKGATE_REQUIRE_CHROMIUM=1 (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium; RISKGATE_REQUIRE_CHROMIUM=1 makes this a failure)")
	return ""
}

// render loads page in headless Chromium and returns the DOM after its
// scripts ran and the console messages it logged (errors, CSP violations
// such as a blocked fetch, anything the page printed).
func render(t *testing.T, browser, page string) (dom string, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0", "--dump-dom", "file://"+page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			console = append(console, line)
		}
	}
	return stdout.String(), console
}

// renderPage renders a report's page in the browser and returns its DOM,
// after checking that nothing was logged to the console and that its
// three charts rendered.
func renderPage(t *testing.T, browser string, page []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	dom, console := render(t, browser, path)
	if len(console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
	}
	if !strings.Contains(dom, `data-charts-rendered="3"`) {
		t.Errorf("the page's charts did not all render (want data-charts-rendered=\"3\"): %.300s", dom)
	}
	return dom
}

var (
	cellCount = regexp.MustCompile(`<text class="count[^"]*"[^>]*>(\d+)</text>`)
	sampleRow = regexp.MustCompile(`(?s)<table id="samples">.*?</table>`)
)

// The HTML report renders in a browser: its charts have a size (the page's
// own check, run after layout), nothing is logged to the console (no
// script error, no blocked fetch), and the DOM holds the report's numbers.
func TestHTMLReportRendersInChromium(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	rep := runFile(t, "testdata/handmade.jsonl", options(t, loadSet(t, "testdata/baseline.yaml"), loadSet(t, "testdata/candidate.yaml")))
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"http:", "https:", "src=", "href=", "<link", "@import", "url("} {
		if i := strings.Index(page.String(), ref); i >= 0 {
			t.Errorf("the page refers to something outside itself (%q: %.60q)", ref, page.String()[i:])
		}
	}
	dom := renderPage(t, browser, page.Bytes())
	var cells []string
	for _, m := range cellCount.FindAllStringSubmatch(dom, -1) {
		cells = append(cells, m[1])
	}
	if got := strings.Join(cells, " "); got != "6 0 1 0 0 3 0 0 0" {
		t.Errorf("transition matrix in the DOM: %q, want the report's 6 0 1 / 0 0 3 / 0 0 0", got)
	}
	for _, want := range []string{
		`id="changed">Attempts whose action changes<b>4</b>`,
		`<tr data-label="legit"><td>legit</td><td class="n">6</td><td class="n">16.67%</td><td class="n">33.33%</td><td class="n">2</td>`,
		`<g data-rule="kiosk-deny">`, `>0 → 1</text>`, `>3 → 3</text>`, `>1 → 2</text>`,
		`<td>candidate</td><td><code>mobile-watch</code></td><td class="n">2</td><td class="n">2</td><td class="n">0</td><td class="n">1</td><td class="n">1</td>`,
		`16.67% → 33.33%`, `50.00% → 50.00%`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if n := strings.Count(sampleRow.FindString(dom), "<tr>"); n != 1+len(rep.Samples) || len(rep.Samples) != 4 {
		t.Errorf("%d sample rows in the DOM for %d samples", n-1, len(rep.Samples))
	}
}

// The harness itself: a page with a script error, a console message and a
// blocked fetch is caught.
func TestChromiumHarnessCatchesErrors(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	path := filepath.Join(t.TempDir(), "bad.html")
	bad := `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'"></head>` +
		`<body><img src="https://example.com/x.png"><script>console.error("boom"); throw new Error("thrown");</script></body></html>`
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, console := render(t, browser, path)
	if len(console) < 3 || strings.Contains(dom, "data-charts-rendered") {
		t.Errorf("console %q: want the blocked image, the message and the exception", console)
	}
}

// The rule matches chart fits its rule ids, the longest (64 characters,
// of the widest letters) included: none is cut off at the chart's edge,
// as the page's own check, run after layout, counts.
func TestHTMLReportFitsLongRuleIDs(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	for _, tc := range []struct {
		name string
		id   func(i int) string
	}{
		{"as written", nil},
		{"64 wide letters", func(i int) string { return fmt.Sprintf("%03d-%s", i, strings.Repeat("mw", 30)) }},
		{"64 characters", func(i int) string {
			return fmt.Sprintf("a-very-long-rule-identifier-for-the-new-device-trial-number-%04d", i)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := runFile(t, "testdata/handmade.jsonl", options(t, loadSet(t, "testdata/baseline.yaml"), loadSet(t, "testdata/candidate.yaml")))
			if tc.id != nil {
				for i := range rep.Rules {
					rep.Rules[i].ID = tc.id(i)
					if len(rep.Rules[i].ID) != 64 {
						t.Fatalf("id %q: %d characters", rep.Rules[i].ID, len(rep.Rules[i].ID))
					}
				}
			}
			var page bytes.Buffer
			if err := rep.WriteHTML(&page); err != nil {
				t.Fatal(err)
			}
			dom := renderPage(t, browser, page.Bytes())
			if !strings.Contains(dom, `data-charts-clipped="0"`) {
				m := regexp.MustCompile(`data-charts-clipped="[^"]*"`).FindString(dom)
				t.Errorf("texts of the charts are cut off at their edge (%s)", m)
			}
		})
	}
}
