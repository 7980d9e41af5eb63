package bench

import (
	"image"
	"image/color"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The chart's labels are set in x/image's basicfont (7×13 pixels, upper
// and lower case), drawn with its font.Drawer.
var face = basicfont.Face7x13

// textHeight is the height of a line of label text, in pixels.
var textHeight = face.Metrics().Height.Ceil()

// charWidth is the advance of one character (the face is monospaced).
const charWidth = 7

// textWidth is the width of s as drawn, in pixels.
func textWidth(s string) int { return font.MeasureString(face, s).Ceil() }

// drawText draws s with its top-left corner at (x, y).
func drawText(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face,
		Dot: fixed.P(x, y+face.Metrics().Ascent.Ceil())}
	d.DrawString(s)
}
