package useragent

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		ua                       string
		family, browser, os, typ string
		bot                      bool
		version                  uint16
	}{
		{"", "", "", "", "unknown", false, 0},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "chrome/windows", "chrome", "windows", "desktop", false, 131},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "edge/windows", "edge", "windows", "desktop", false, 131},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "safari/macos", "safari", "macos", "desktop", false, 18},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "safari/ios", "safari", "ios", "mobile", false, 18},
		{"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "chrome/ios", "chrome", "ios", "tablet", false, 131},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", "chrome/android", "chrome", "android", "mobile", false, 131},
		{"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36", "samsung/android", "samsung", "android", "tablet", false, 26},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "firefox/linux", "firefox", "linux", "desktop", false, 132},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "chrome/chromeos", "chrome", "chromeos", "desktop", false, 131},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/114.0.0.0", "opera/windows", "opera", "windows", "desktop", false, 114},
		{"curl/8.5.0", "curl/other", "curl", "other", "bot", true, 8},
		{"python-requests/2.32.3", "python/other", "python", "other", "bot", true, 2},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "headless/linux", "headless", "linux", "bot", true, 131},
		{"okhttp/4.12.0", "okhttp/other", "okhttp", "other", "unknown", false, 4},
		{"MyBank/5.2 (Android 14) okhttp/4.12.0", "okhttp/android", "okhttp", "android", "mobile", false, 4},
		{"Googlebot/2.1 (+http://www.google.com/bot.html)", "crawler/other", "crawler", "other", "bot", true, 0},
		{"something odd", "other/other", "other", "other", "unknown", false, 0},
	}
	for _, tt := range tests {
		got := Parse(tt.ua)
		want := Info{Family: tt.family, Browser: tt.browser, OS: tt.os, Type: tt.typ, Bot: tt.bot, Version: tt.version}
		if got != want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.ua, got, want)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	if n := testing.AllocsPerRun(100, func() { _ = Parse(ua) }); n != 0 {
		t.Fatalf("Parse allocates %v times per call", n)
	}
}

func BenchmarkParse(b *testing.B) {
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	b.ReportAllocs()
	for b.Loop() {
		_ = Parse(ua)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Version/18.1 Mobile Safari/604.1")
	f.Add("(((/")
	f.Add("/x/")
	f.Fuzz(func(t *testing.T, ua string) {
		info := Parse(ua)
		if ua != "" && (info.Family == "" || info.Browser == "" || info.OS == "" || info.Type == "") {
			t.Fatalf("incomplete classification of %q: %+v", ua, info)
		}
	})
}

func TestCacheAgreesWithParse(t *testing.T) {
	c := NewCache()
	uas := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"curl/8.5.0",
		"",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	}
	for range 3 {
		for _, ua := range uas {
			if got, want := c.Parse(ua), Parse(ua); got != want {
				t.Errorf("cached %q: %+v, want %+v", ua, got, want)
			}
		}
	}
	// Thousands of distinct agents: collisions replace slots, answers stay right.
	for i := range 20000 {
		ua := "Mozilla/5.0 (X11; Linux x86_64) Firefox/" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
		if got, want := c.Parse(ua), Parse(ua); got != want {
			t.Fatalf("cached %q: %+v, want %+v", ua, got, want)
		}
	}
	ua := uas[0]
	c.Parse(ua)
	if n := testing.AllocsPerRun(100, func() { _ = c.Parse(ua) }); n != 0 {
		t.Errorf("a cache hit allocates %v times", n)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache()
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Parse(ua)
	}
}
