package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/chromedp/chromedp"
)

// The sizes every page is checked at: a laptop and a phone (an iPhone 12 to
// 15 in portrait, CSS pixels).
var (
	Desktop = Size{Name: "desktop", Width: 1280, Height: 800}
	Mobile  = Size{Name: "mobile", Width: 390, Height: 844, Mobile: true}
)

// Size is a viewport a page is checked at.
type Size struct {
	Name          string
	Width, Height int64
	Mobile        bool // touch and a device scale factor of 3, as a phone
}

// Resize makes the tab's viewport s, a phone's when s.Mobile.
func Resize(ctx context.Context, s Size) error {
	if !s.Mobile {
		return chromedp.Do(ctx, chromedp.EmulateViewport(s.Width, s.Height))
	}
	return chromedp.Do(ctx, chromedp.EmulateViewport(s.Width, s.Height,
		chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(3)))
}

// Violation is one rule axe-core found broken, with the elements breaking it.
type Violation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// axeSource is axe-core's script, installed by `make assets` (npm ci) from
// web/package.json; it is read by tests only and never served.
var axeSource = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "web", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("axe-core is missing (run make assets): %w", err)
	}
	return string(b), nil
})

// Axe runs axe-core on the page in ctx and returns every violation of any
// impact, WCAG 2.x A and AA and best practices. The script is evaluated
// through the DevTools protocol, which the page's CSP does not govern.
func Axe(ctx context.Context) ([]Violation, error) {
	src, err := axeSource()
	if err != nil {
		return nil, err
	}
	run := src + `;
axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help,
	targets: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe-core: %w", err)
	}
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		return nil, fmt.Errorf("axe-core's answer: %w", err)
	}
	return vs, nil
}

// Overflow reports how far the document is wider than the viewport, in
// CSS pixels (0 when nothing scrolls sideways), and the widest elements
// that stick out, to say where.
func Overflow(ctx context.Context) (int, []string, error) {
	type result struct {
		Over     int      `json:"over"`
		Culprits []string `json:"culprits"`
	}
	js := `(() => {
	const vw = document.documentElement.clientWidth;
	const over = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - vw;
	const culprits = [];
	if (over > 0) {
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.right > vw + 1 && getComputedStyle(el).position !== "fixed") {
				let inScroller = false;
				for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
					const ox = getComputedStyle(p).overflowX;
					if (ox === "auto" || ox === "scroll" || ox === "hidden") { inScroller = true; break; }
				}
				if (!inScroller) culprits.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
					(el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
					" right=" + Math.round(r.right));
			}
			if (culprits.length >= 8) break;
		}
	}
	return JSON.stringify({over: Math.max(0, over), culprits});
})()`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return 0, nil, err
	}
	var r result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return 0, nil, err
	}
	return r.Over, r.Culprits, nil
}

// Favicon reports the page's icon link and whether the icon loads as an
// image, as the browser would load it (within the page's CSP).
func Favicon(ctx context.Context) (href string, loads bool, err error) {
	js := `(async () => {
	const link = document.querySelector('link[rel~="icon"]');
	if (!link) return JSON.stringify({href: "", loads: false});
	const loads = await new Promise(done => {
		const img = new Image();
		img.onload = () => done(img.naturalWidth > 0);
		img.onerror = () => done(false);
		img.src = link.href;
	});
	return JSON.stringify({href: link.href, loads});
})()`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return "", false, err
	}
	var r struct {
		Href  string `json:"href"`
		Loads bool   `json:"loads"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return "", false, err
	}
	return r.Href, r.Loads, nil
}
