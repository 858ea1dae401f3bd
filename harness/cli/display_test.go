package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDisplayKeepsOneLiveLinePerRunOnATerminal(t *testing.T) {
	var b bytes.Buffer
	d := newDisplay(&b, true, func() int { return 30 })
	d.Event("run 1/2: a")
	d.Status("a", "t+  1s Progressing")
	d.Status("b", "t+  1s Paused step 1/3 weight 25 and much more")
	d.Status("a", "t+  2s Progressing")
	d.Event("run 1/2: a: detected")
	d.Done("a")
	out := b.String()
	// The last frame: b's live line alone, redrawn below the events.
	assert.True(t, strings.HasSuffix(out, "\x1b[2A\x1b[J[b] t+  1s Paused step 1/3 w…\n"), "a finished run's line goes; a long one is cut to the width: %q", out)
	assert.Equal(t, 2, strings.Count(out, "run 1/2: a"), "events are printed once each, above the live lines")
	for _, line := range strings.Split(out, "\n") {
		assert.LessOrEqual(t, len([]rune(line)), 30+len("\x1b[2A\x1b[J"), "no line wraps: %q", line)
	}
}

func TestDisplayPrintsPlainLinesWithoutATerminal(t *testing.T) {
	var b bytes.Buffer
	d := newDisplay(&b, false, func() int { return 30 })
	d.Status("a", "t+  1s Progressing")
	d.Status("a", "t+  2s Progressing") // within plainEvery: left out
	d.Event("run 1/1: a: detected")
	d.Done("a")
	assert.Equal(t, "[a] t+  1s Progressing\nrun 1/1: a: detected\n", b.String())
	assert.NotContains(t, b.String(), "\x1b")
}
