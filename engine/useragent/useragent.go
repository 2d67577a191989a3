// Package useragent classifies User-Agent strings into the coarse families
// that device novelty needs: browser, operating system and device type. It
// is deliberately small: riskgate compares a login's family against the
// user's history, so it needs stable, cheap answers; of versions only the
// browser's major one, which says whether a browser string is older than
// what the user's devices already run. Parse does not allocate.
package useragent

import "strings"

// Info is the classification of one User-Agent string. All strings are
// constants shared between calls.
type Info struct {
	Family  string // "browser/os", e.g. "chrome/windows"; empty when the UA is empty
	Browser string
	OS      string
	Type    string // desktop, mobile, tablet, bot, unknown
	Bot     bool   // a script, HTTP library or headless browser
	// Version is the browser's major version ("Chrome/142.0.0.0" → 142;
	// Safari's "Version/26.2" → 26), 0 when there is none.
	Version uint16
}

type browser uint8

const (
	bOther browser = iota
	bChrome
	bFirefox
	bSafari
	bEdge
	bOpera
	bSamsung
	bCurl
	bWget
	bPython
	bGo
	bJava
	bNode
	bOkHTTP
	bPostman
	bHeadless
	bCrawler
	numBrowsers
)

var browserNames = [numBrowsers]string{"other", "chrome", "firefox", "safari", "edge", "opera", "samsung", "curl", "wget", "python", "go", "java", "node", "okhttp", "postman", "headless", "crawler"}

type osKind uint8

const (
	oOther osKind = iota
	oWindows
	oMacOS
	oIOS
	oAndroid
	oLinux
	oChromeOS
	numOS
)

var osNames = [numOS]string{"other", "windows", "macos", "ios", "android", "linux", "chromeos"}

// families holds every "browser/os" string once, so Parse never concatenates.
var families [numBrowsers][numOS]string

func init() {
	for b := range families {
		for o := range families[b] {
			families[b][o] = browserNames[b] + "/" + osNames[o]
		}
	}
}

// products maps a product token (the word before a '/') to a client, with
// a priority: browsers all claim to be Mozilla, Safari and Chrome, so the
// most specific token wins (Edg beats Chrome beats Safari), and any script,
// library or headless token beats every browser.
var products = map[string]struct {
	b    browser
	prio uint8
}{
	"Safari":            {bSafari, 1},
	"Chromium":          {bChrome, 2},
	"Chrome":            {bChrome, 2},
	"CriOS":             {bChrome, 3},
	"Firefox":           {bFirefox, 3},
	"FxiOS":             {bFirefox, 3},
	"SamsungBrowser":    {bSamsung, 4},
	"Opera":             {bOpera, 4},
	"OPR":               {bOpera, 4},
	"Edge":              {bEdge, 5},
	"Edg":               {bEdge, 5},
	"EdgA":              {bEdge, 5},
	"EdgiOS":            {bEdge, 5},
	"okhttp":            {bOkHTTP, 6},
	"curl":              {bCurl, 9},
	"Wget":              {bWget, 9},
	"python-requests":   {bPython, 9},
	"Python-urllib":     {bPython, 9},
	"python-httpx":      {bPython, 9},
	"aiohttp":           {bPython, 9},
	"Go-http-client":    {bGo, 9},
	"Java":              {bJava, 9},
	"Apache-HttpClient": {bJava, 9},
	"node-fetch":        {bNode, 9},
	"axios":             {bNode, 9},
	"undici":            {bNode, 9},
	"node":              {bNode, 9},
	"PostmanRuntime":    {bPostman, 9},
	"HeadlessChrome":    {bHeadless, 10},
	"PhantomJS":         {bHeadless, 10},
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// client finds the most specific product token in ua and its major
// version: one pass over the string, one map lookup per '/'.
func client(ua string) (browser, uint16) {
	b, prio := bOther, uint8(0)
	var version, safariVersion uint16
	for i := 0; i < len(ua); i++ {
		if ua[i] != '/' {
			continue
		}
		j := i
		for j > 0 && isTokenChar(ua[j-1]) {
			j--
		}
		name := ua[j:i]
		if name == "Version" {
			safariVersion = major(ua[i+1:])
			continue
		}
		if p, ok := products[name]; ok {
			if p.prio > prio {
				b, prio, version = p.b, p.prio, major(ua[i+1:])
			}
			continue
		}
		if prio < 9 && isCrawler(name) {
			b, prio, version = bCrawler, 9, 0
		}
	}
	if b == bSafari {
		version = safariVersion // "Safari/604.1" is WebKit's build
	}
	return b, version
}

// major reads the leading digits of s, up to 65535.
func major(s string) uint16 {
	var v uint32
	for i := 0; i < len(s) && i < 5 && s[i] >= '0' && s[i] <= '9'; i++ {
		v = v*10 + uint32(s[i]-'0')
	}
	return uint16(min(v, 65535))
}

// isCrawler matches Googlebot, bingbot, AhrefsBot, YandexBot and friends.
func isCrawler(name string) bool {
	n := len(name)
	if n >= 3 {
		t := name[n-3:]
		if t == "bot" || t == "Bot" {
			return true
		}
	}
	return strings.Contains(name, "spider") || strings.Contains(name, "crawler")
}

// platform is the first parenthesised comment, where browsers put the OS.
func platform(ua string) string {
	i := strings.IndexByte(ua, '(')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(ua[i:], ')')
	if j < 0 {
		return ua[i+1:]
	}
	return ua[i+1 : i+j]
}

// Parse classifies ua.
func Parse(ua string) Info {
	if ua == "" {
		return Info{Type: "unknown"}
	}
	b, version := client(ua)
	pl := platform(ua)
	o := oOther
	switch {
	case strings.Contains(pl, "Windows"):
		o = oWindows
	case strings.Contains(pl, "iPhone") || strings.Contains(pl, "iPad") || strings.Contains(pl, "iPod"):
		o = oIOS
	case strings.Contains(pl, "Android"):
		o = oAndroid
	case strings.Contains(pl, "CrOS"):
		o = oChromeOS
	case strings.Contains(pl, "Macintosh") || strings.Contains(pl, "Mac OS X"):
		o = oMacOS
	case strings.Contains(pl, "Linux"):
		o = oLinux
	}
	info := Info{Family: families[b][o], Browser: browserNames[b], OS: osNames[o], Version: version}
	switch b {
	case bCurl, bWget, bPython, bGo, bJava, bNode, bPostman, bHeadless, bCrawler:
		info.Bot = true
		info.Type = "bot"
		return info
	}
	switch o {
	case oIOS:
		info.Type = "mobile"
		if strings.Contains(pl, "iPad") {
			info.Type = "tablet"
		}
	case oAndroid:
		info.Type = "tablet"
		if strings.Contains(ua, "Mobile") || b == bOkHTTP {
			info.Type = "mobile"
		}
	case oWindows, oMacOS, oLinux, oChromeOS:
		info.Type = "desktop"
	default:
		info.Type = "unknown"
	}
	return info
}
