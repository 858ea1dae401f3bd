package demo

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"regexp"
	"strconv"
	"sync"
)

// The dashboard's palette, read from web/app.css, where the page reads it
// too: the tests and the page cannot disagree on a colour.

// gridColorNames are the colours a grid square can have: the catalog
// colours and grey for a request no version answered.
var gridColorNames = []string{"blue", "green", "yellow", "orange", "red", "purple", "grey"}

// gridFailed is the share key of the black centres that mark failed requests.
const gridFailed = "failed"

type rgb struct{ r, g, b float64 }

func (c rgb) sub(d rgb) rgb                { return rgb{c.r - d.r, c.g - d.g, c.b - d.b} }
func (c rgb) add(d rgb) rgb                { return rgb{c.r + d.r, c.g + d.g, c.b + d.b} }
func (c rgb) dot(d rgb) float64            { return c.r*d.r + c.g*d.g + c.b*d.b }
func (c rgb) scale(f float64) rgb          { return rgb{c.r * f, c.g * f, c.b * f} }
func (c rgb) dist(d rgb) float64           { return math.Sqrt(c.sub(d).dot(c.sub(d))) }
func (c rgb) String() string               { return fmt.Sprintf("#%02x%02x%02x", int(c.r), int(c.g), int(c.b)) }
func rgbOf(r, g, b uint32) rgb             { return rgb{float64(r >> 8), float64(g >> 8), float64(b >> 8)} }
func (c rgb) near(d rgb, tol float64) bool { return c.dist(d) <= tol }

var paletteVar = regexp.MustCompile(`--c-([a-z-]+):\s*#([0-9a-fA-F]{6})\s*;`)

// webPalette returns the palette of app.css by name ("blue", ..., "grey",
// "grid-bg" the grid's background, "fail" the failure mark).
var webPalette = sync.OnceValues(func() (map[string]rgb, error) {
	css, err := webFS.ReadFile("web/app.css")
	if err != nil {
		return nil, err
	}
	p := map[string]rgb{}
	for _, m := range paletteVar.FindAllStringSubmatch(string(css), -1) {
		v, _ := strconv.ParseUint(m[2], 16, 32)
		p[m[1]] = rgb{float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)}
	}
	for _, name := range append(append([]string(nil), gridColorNames...), "grid-bg", "fail") {
		if _, ok := p[name]; !ok {
			return nil, fmt.Errorf("app.css defines no --c-%s: #rrggbb", name)
		}
	}
	return p, nil
})

// classifyGridPixel names the palette colour a pixel of the grid shows:
// a grid colour (possibly faded: the page draws old requests translucent
// over the grid background), gridFailed for a failure mark, or "" for the
// background and anything it cannot place (text, edges).
func classifyGridPixel(p map[string]rgb, px rgb) string {
	bg := p["grid-bg"]
	switch {
	case px.near(bg, 10):
		return ""
	case px.near(p["fail"], 10):
		return gridFailed
	}
	// A square of colour C drawn with opacity a over the background B is
	// a*C + (1-a)*B: px - B lies on the line from B towards C.
	best, bestOff := "", math.Inf(1)
	q := px.sub(bg)
	for _, name := range gridColorNames {
		d := p[name].sub(bg)
		a := q.dot(d) / d.dot(d)
		if a < 0.15 || a > 1.1 {
			continue
		}
		if off := q.sub(d.scale(a)).dot(q.sub(d.scale(a))); off < bestOff {
			best, bestOff = name, off
		}
	}
	if math.Sqrt(bestOff) > 20 {
		return ""
	}
	return best
}

// gridColorShares decodes a screenshot of the #grid canvas and returns the
// share of each colour among the pixels that are not background: keys are
// gridColorNames and gridFailed; the shares add up to 1 (or the map is empty
// when no square is drawn).
func gridColorShares(pngData []byte) (map[string]float64, error) {
	p, err := webPalette()
	if err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return nil, fmt.Errorf("grid screenshot: %w", err)
	}
	counts := map[string]int{}
	total := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if name := classifyGridPixel(p, pixelAt(img, x, y)); name != "" {
				counts[name]++
				total++
			}
		}
	}
	shares := map[string]float64{}
	for name, n := range counts {
		shares[name] = float64(n) / float64(total)
	}
	return shares, nil
}

func pixelAt(img image.Image, x, y int) rgb {
	r, g, b, _ := img.At(x, y).RGBA()
	return rgbOf(r, g, b)
}
