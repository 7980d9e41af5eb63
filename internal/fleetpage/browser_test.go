package fleetpage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wxc-inventory/wxc-sync/internal/testbin"
)

// artifactDir is where the browser tests leave the pages they loaded and
// their screenshots: $WXC_TEST_ARTIFACTS, else a folder in the system's
// temporary directory. The paths are logged.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WXC_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "wxc-sync-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageFacts is what the browser saw of a page.
type pageFacts struct {
	Charts      int      `json:"charts"`
	Bars        int      `json:"bars"`
	Segments    int      `json:"segments"`
	Legends     int      `json:"legends"`
	Tables      int      `json:"tables"`
	Scripts     int      `json:"scripts"`
	Images      int      `json:"images"`
	Pwned       bool     `json:"pwned"`
	ScrollWidth int      `json:"scrollWidth"`
	ClientWidth int      `json:"clientWidth"`
	Text        string   `json:"text"`
	ChartText   []string `json:"chartText"`
	BrokenWords []string `json:"brokenWords"`
}

const factsJS = `({
	charts: document.querySelectorAll('svg.chart').length,
	bars: document.querySelectorAll('svg.chart rect.bar').length,
	segments: document.querySelectorAll('svg.chart rect.seg').length,
	legends: document.querySelectorAll('ul.legend li').length,
	tables: document.querySelectorAll('table').length,
	scripts: document.scripts.length,
	images: document.images.length,
	pwned: window.pwned !== undefined || document.title === 'pwned',
	scrollWidth: document.documentElement.scrollWidth,
	clientWidth: document.documentElement.clientWidth,
	text: document.body.innerText,
	chartText: Array.from(document.querySelectorAll('svg.chart text')).map(e => e.textContent),
	brokenWords: Array.from(document.querySelectorAll('td div.v')).filter(d => {
		const t = d.textContent;
		const line = parseFloat(getComputedStyle(d).lineHeight);
		return t.length <= 24 && !/\s/.test(t) && d.getBoundingClientRect().height > 1.5 * line;
	}).map(d => d.textContent),
})`

// visit is one page load in headless Chromium.
type visit struct {
	Facts    pageFacts
	Errors   []string // console errors, exceptions, error log entries (a CSP violation is one)
	Requests []string // every request the page made, its own load included
}

// browse loads file in headless Chromium with the network off (offline
// emulation, and a proxy that goes nowhere for anything that would leave
// the machine), records what it logged and requested, reads the page's
// facts and writes a full-page screenshot to png.
func browse(t *testing.T, file, png string, width int) visit {
	t.Helper()
	chromium := testbin.Need(t, testbin.Chromium)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("proxy-server", "http://127.0.0.1:9"),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, 800),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	var mu sync.Mutex
	var v visit
	// Listen before anything loads: the handler runs in the tab's read
	// loop, so it only appends.
	err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				v.Errors = append(v.Errors, "console: "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			v.Errors = append(v.Errors, "exception: "+e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				v.Errors = append(v.Errors, "log: "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			v.Requests = append(v.Requests, e.Request.URL)
		}
	})
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
	}
	_, err = chromedp.Call(bctx, network.Enable, network.EnableParams{})
	step("Network.enable", err)
	_, err = chromedp.Call(bctx, cdplog.Enable, cdp.Empty{})
	step("Log.enable", err)
	_, err = chromedp.Call(bctx, runtime.Enable, cdp.Empty{})
	step("Runtime.enable", err)
	// The network off: every request the page might make fails.
	_, err = chromedp.Call(bctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}},
	})
	step("Network.emulateNetworkConditionsByRule", err)
	_, err = chromedp.Call(bctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	step("Network.overrideNetworkState", err)
	step("navigate", chromedp.Do(bctx, chromedp.Navigate("file://"+file), chromedp.WaitReady(chromedp.CSS("body"))))
	v.Facts, err = chromedp.Run(bctx, chromedp.Evaluate[pageFacts](factsJS))
	step("read the page", err)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	step("screenshot", err)
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page %s, screenshot %s", file, png)
	mu.Lock()
	defer mu.Unlock()
	return v
}
