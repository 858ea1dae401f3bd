package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// display shows a run set's progress: notable events as lines that stay,
// and on a terminal one live line per active run, redrawn in place below
// them. Without a terminal each run's status is printed as a plain line,
// at most every plainEvery per run, so that a CI log stays readable.
type display struct {
	w     io.Writer
	tty   bool
	width func() int

	mu     sync.Mutex
	order  []string          // active runs, in start order
	status map[string]string // run ID -> latest status
	last   map[string]time.Time
	drawn  int // live lines on screen below the events
}

const plainEvery = 10 * time.Second

func newDisplay(w io.Writer, tty bool, width func() int) *display {
	return &display{w: w, tty: tty, width: width, status: map[string]string{}, last: map[string]time.Time{}}
}

// Event prints a line that stays.
func (d *display) Event(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	fmt.Fprintln(d.w, line)
	d.draw()
}

// Status sets a run's live line.
func (d *display) Status(id, line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Contains(d.order, id) {
		d.order = append(d.order, id)
	}
	d.status[id] = line
	if !d.tty {
		if now := time.Now(); now.Sub(d.last[id]) >= plainEvery {
			d.last[id] = now
			fmt.Fprintf(d.w, "[%s] %s\n", id, line)
		}
		return
	}
	d.clear()
	d.draw()
}

// Done removes a run's live line.
func (d *display) Done(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	d.order = slices.DeleteFunc(d.order, func(s string) bool { return s == id })
	delete(d.status, id)
	delete(d.last, id)
	d.draw()
}

// clear removes the live lines from the screen; the caller holds d.mu.
func (d *display) clear() {
	if d.tty && d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA\x1b[J", d.drawn)
		d.drawn = 0
	}
}

// draw writes one line per active run, cut to the terminal's width so
// that none wraps (a wrapped line would break the redraw); the caller
// holds d.mu.
func (d *display) draw() {
	if !d.tty {
		return
	}
	w := d.width()
	for _, id := range d.order {
		line := "[" + id + "] " + d.status[id]
		if r := []rune(line); len(r) > w-1 {
			line = string(r[:max(w-2, 1)]) + "…"
		}
		fmt.Fprintln(d.w, strings.TrimRight(line, " "))
		d.drawn++
	}
}
