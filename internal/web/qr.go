package web

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// qrSVG draws content as a QR code in inline SVG: one path of dark modules inside a 4-module quiet
// zone. Inline SVG needs no image request and no data: URI, so the page's Content-Security-Policy
// stays as strict as it is, and the secret it carries never appears in a URL.
func qrSVG(content, label string) (template.HTML, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("web: qr code: %w", err)
	}
	type moduleGetter interface{ Get(x, y int) bool }
	g, ok := code.(moduleGetter)
	if !ok {
		return "", fmt.Errorf("web: qr code: unexpected type %T", code)
	}
	n := code.Bounds().Dx()
	const quiet = 4
	var path strings.Builder
	for y := 0; y < n; y++ {
		for x := 0; x < n; {
			if !g.Get(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < n && g.Get(x+run, y) {
				run++
			}
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", x+quiet, y+quiet, run, run)
			x += run
		}
	}
	size := n + 2*quiet
	return template.HTML(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" shape-rendering="crispEdges">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		size, size, size*5, size*5, template.HTMLEscapeString(label), size, size, path.String())), nil
}
