package simulator

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// deviceKind is a kind of personal device.
type deviceKind uint8

const (
	devWindows deviceKind = iota
	devMac
	devLinux
	devChromebook
	devIPhone
	devAndroid
	devIPad
)

func (k deviceKind) mobile() bool { return k == devIPhone || k == devAndroid }

// browserKind is a browser.
type browserKind uint8

const (
	brChrome browserKind = iota
	brEdge
	brFirefox
	brSafari
	brSamsung
)

// Release trains. Chrome and Edge ship a major version every four weeks,
// Firefox too; Safari a major version each September with the OS. The
// versions in the user-agent strings follow the simulated date, and each
// device updates a few days after a release, so a user's browser string
// changes during a long run while its family (browser/OS) does not.
var (
	chromeEpoch  = time.Date(2024, 11, 12, 0, 0, 0, 0, time.UTC) // Chrome 131
	firefoxEpoch = time.Date(2024, 11, 26, 0, 0, 0, 0, time.UTC) // Firefox 133
	safari26     = time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC)
)

const fourWeeks = 28 * 24 * time.Hour

func chromeMajor(t time.Time) int  { return 131 + int(t.Sub(chromeEpoch)/fourWeeks) }
func firefoxMajor(t time.Time) int { return 133 + int(t.Sub(firefoxEpoch)/fourWeeks) }

// safariVersion is Safari's "Version/" value and, for iOS, the OS version
// the string shows. Since iOS 26 Safari freezes the OS part at 18_6.
func safariVersion(t time.Time) (version, iosToken string) {
	if t.Before(safari26) {
		minor := min(6, int(t.Sub(safari26.AddDate(-1, 0, 0))/(45*24*time.Hour)))
		return fmt.Sprintf("18.%d", minor), fmt.Sprintf("18_%d", minor)
	}
	minor := min(6, int(t.Sub(safari26)/(45*24*time.Hour)))
	return fmt.Sprintf("26.%d", minor), "18_6"
}

var androidModels = []string{"SM-S928B", "SM-A556B", "SM-S921B", "Pixel 8", "Pixel 9", "SM-G991B", "2312DRA50G", "CPH2581"}

// Device is one of a user's devices: its kind, its browser and the id the
// service's device cookie holds.
type Device struct {
	Kind    deviceKind
	Browser browserKind
	ID      string
	lag     time.Duration // how long after a release the device updates
	model   string        // Android model, for Samsung Internet
	desk    bool          // a desktop computer: it does not travel
	work    bool          // the employer's laptop or desktop
}

// UA is the device's user-agent string at t, as the browser sends it
// (Chrome's reduced user-agent: frozen platform, zeroed minor versions).
func (d *Device) UA(t time.Time) string {
	t = t.Add(-d.lag)
	cv := chromeMajor(t)
	switch d.Kind {
	case devWindows:
		switch d.Browser {
		case brEdge:
			return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0.0.0", cv, cv)
		case brFirefox:
			fv := firefoxMajor(t)
			return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%d.0) Gecko/20100101 Firefox/%d.0", fv, fv)
		}
		return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", cv)
	case devMac, devIPad:
		// iPadOS Safari asks for the desktop site and says it is a Mac.
		switch d.Browser {
		case brChrome:
			return fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", cv)
		case brFirefox:
			fv := firefoxMajor(t)
			return fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:%d.0) Gecko/20100101 Firefox/%d.0", fv, fv)
		}
		v, _ := safariVersion(t)
		return fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Safari/605.1.15", v)
	case devLinux:
		if d.Browser == brChrome {
			return fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", cv)
		}
		fv := firefoxMajor(t)
		return fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0", fv, fv)
	case devChromebook:
		return fmt.Sprintf("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", cv)
	case devIPhone:
		v, ios := safariVersion(t)
		if d.Browser == brChrome {
			return fmt.Sprintf("Mozilla/5.0 (iPhone; CPU iPhone OS %s like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/%d.0.0.0 Mobile/15E148 Safari/604.1", ios, cv)
		}
		return fmt.Sprintf("Mozilla/5.0 (iPhone; CPU iPhone OS %s like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Mobile/15E148 Safari/604.1", ios, v)
	case devAndroid:
		if d.Browser == brSamsung {
			return fmt.Sprintf("Mozilla/5.0 (Linux; Android 14; %s) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/28.0 Chrome/%d.0.0.0 Mobile Safari/537.36", d.model, cv-6)
		}
		return fmt.Sprintf("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Mobile Safari/537.36", cv)
	}
	return ""
}

// newDevice draws a device of the kind with the browser people actually
// use on it (StatCounter-like shares: Chrome dominates Windows and Android,
// Safari dominates Apple devices).
func newDevice(r *rand.Rand, k deviceKind, id string) Device {
	d := Device{Kind: k, ID: id, lag: time.Duration(r.IntN(21*24)) * time.Hour}
	x := r.Float64()
	switch k {
	case devWindows:
		d.Browser = pickBrowser(x, brChrome, 0.66, brEdge, 0.22, brFirefox)
	case devMac:
		d.Browser = pickBrowser(x, brSafari, 0.55, brChrome, 0.40, brFirefox)
	case devLinux:
		d.Browser = pickBrowser(x, brFirefox, 0.55, brChrome, 0.45, brChrome)
	case devChromebook:
		d.Browser = brChrome
	case devIPhone:
		d.Browser = pickBrowser(x, brSafari, 0.9, brChrome, 0.1, brChrome)
	case devAndroid:
		d.Browser = pickBrowser(x, brChrome, 0.82, brSamsung, 0.18, brSamsung)
		d.model = androidModels[r.IntN(len(androidModels))]
	case devIPad:
		d.Browser = brSafari
	}
	return d
}

func pickBrowser(x float64, a browserKind, pa float64, b browserKind, pb float64, c browserKind) browserKind {
	switch {
	case x < pa:
		return a
	case x < pa+pb:
		return b
	}
	return c
}

// Attack tooling. Credential-stuffing kits (OpenBullet, SilverBullet,
// SentryMBA configs) send browser strings from a list, often a stale one;
// cruder scripts send their HTTP library's default.
var (
	staleBrowserUAs = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36 Edg/116.0.1938.69",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36",
	}
	scriptUAs = []string{
		"python-requests/2.31.0", "python-requests/2.32.3", "curl/8.5.0", "Go-http-client/1.1", "okhttp/4.12.0", "axios/1.6.7",
	}
)

// attackerDevice is a device an attacker logs in with: a current browser
// on a desktop, as a person at a keyboard would use.
func attackerDevice(r *rand.Rand, id string) Device {
	kinds := []deviceKind{devWindows, devWindows, devWindows, devMac, devLinux, devAndroid}
	return newDevice(r, kinds[r.IntN(len(kinds))], id)
}
