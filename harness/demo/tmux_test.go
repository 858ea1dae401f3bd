package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
)

// tmuxSession is a command running in a detached tmux session of its own
// (a tmux server on a private socket, so that nothing the test does
// touches the user's tmux): what a viewer of a terminal would see.
type tmuxSession struct {
	t      *testing.T
	socket string // tmux -S
	name   string
}

var tmuxSessions atomic.Int64

// startTmux runs command in a detached tmux session of width×height
// (no status line: the pane is the whole window). The pane stays after the
// command exits, so its last screen can still be captured; the session
// and its server are killed when the test ends. It skips the test when
// tmux is not installed.
func startTmux(t *testing.T, width, height int, command ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux): the terminal view cannot be tested end to end")
	}
	require.NotEmpty(t, command, "a command to run")
	// a short directory of its own: a socket's path is at most ~100 bytes
	dir, err := os.MkdirTemp("", "brtmux")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	n := tmuxSessions.Add(1)
	s := &tmuxSession{t: t, socket: filepath.Join(dir, "sock"), name: fmt.Sprintf("br%d", n)}
	conf := filepath.Join(dir, "tmux.conf")
	require.NoError(t, os.WriteFile(conf, []byte("set -g status off\nset -g remain-on-exit on\nset -g history-limit 5000\n"), 0o600))
	wd, err := os.Getwd()
	require.NoError(t, err)
	args := []string{"-f", conf, "new-session", "-d", "-s", s.name, "-c", wd,
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), "--"}
	if _, err := s.tmux(append(args, command...)...); err != nil {
		t.Fatalf("tmux new-session: %v", err)
	}
	t.Cleanup(func() {
		_, _ = s.tmux("kill-session", "-t", s.name)
		_, _ = s.tmux("kill-server") // the private server, with anything left in it
	})
	return s
}

// tmux runs a tmux command against the session's server.
func (s *tmuxSession) tmux(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tmux", append([]string{"-S", s.socket}, args...)...)
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TMUX=") && !strings.HasPrefix(e, "TMUX_PANE=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Capture is the visible pane as text, without colours.
func (s *tmuxSession) Capture() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-t", s.name)
	require.NoError(s.t, err)
	return out
}

// CaptureColor is the visible pane with its colours as escape sequences.
func (s *tmuxSession) CaptureColor() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-e", "-t", s.name)
	require.NoError(s.t, err)
	return out
}

// CaptureAll is the pane's scrollback history and visible screen.
func (s *tmuxSession) CaptureAll() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-S", "-", "-E", "-", "-t", s.name)
	require.NoError(s.t, err)
	return out
}

// Display expands a tmux format for the pane, e.g. "#{cursor_flag}".
func (s *tmuxSession) Display(format string) string {
	s.t.Helper()
	out, err := s.tmux("display-message", "-p", "-t", s.name, format)
	require.NoError(s.t, err)
	return strings.TrimSpace(out)
}

// SendKeys types keys into the pane (tmux key names, e.g. "q", "Enter").
func (s *tmuxSession) SendKeys(keys ...string) {
	s.t.Helper()
	_, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...)
	require.NoError(s.t, err)
}

// WaitFor waits until the visible pane shows substring and returns the
// pane; it fails the test with the last screen after timeout.
func (s *tmuxSession) WaitFor(timeout time.Duration, substring string) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		screen := s.Capture()
		if strings.Contains(screen, substring) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the pane did not show %q within %v; it shows:\n%s", substring, timeout, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDisplay waits until the format expands to want.
func (s *tmuxSession) waitDisplay(timeout time.Duration, format, want string) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for got := s.Display(format); got != want; got = s.Display(format) {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s is %q, not %q, after %v; the pane shows:\n%s", format, got, want, timeout, s.Capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTmuxHelper(t *testing.T) {
	s := startTmux(t, 80, 24, "sh", "-c", `printf "step 2/4\n"; sleep 30`)
	screen := s.WaitFor(10*time.Second, "step 2/4")
	assert.Equal(t, "step 2/4", strings.TrimSpace(screen))
	assert.Equal(t, "80x24", s.Display("#{pane_width}x#{pane_height}"))

	// keys reach the command; the pane stays after it exits
	s2 := startTmux(t, 40, 5, "sh", "-c", `read line; echo "got $line"; exit 3`)
	s2.SendKeys("hello", "Enter")
	s2.WaitFor(10*time.Second, "got hello")
	s2.waitDisplay(10*time.Second, "#{pane_dead}", "1")
	assert.Contains(t, s2.Capture(), "got hello")
}

// tuiChildEnv marks the re-executed test binary that draws in the pane;
// its value is a file whose creation tells the child to close its Terminal.
const tuiChildEnv = "BE_TUI_CHILD"

// TestTerminalTmux runs TestTerminalTmuxChild in a tmux pane: an
// interactive Terminal on a real terminal, redrawn in place.
func TestTerminalTmux(t *testing.T) {
	if os.Getenv(tuiChildEnv) != "" {
		t.Skip("the child draws; TestTerminalTmuxChild")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, size := range []struct{ w, h int }{{100, 40}, {60, 12}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			closeFile := filepath.Join(t.TempDir(), "close")
			s := startTmux(t, size.w, size.h, "env", tuiChildEnv+"="+closeFile, exe, "-test.run=^TestTerminalTmuxChild$", "-test.count=1")
			screen := s.WaitFor(60*time.Second, "step 3/4")
			t.Log("\n" + screen)
			assert.Equal(t, 1, strings.Count(screen, "blastradius live"), "the header once on screen")
			assert.True(t, strings.HasPrefix(screen, " blastradius live"), "the header on the first line")
			assert.NotContains(t, screen, "step 1/4")
			assert.NotContains(t, screen, "step 2/4")
			assert.NotContains(t, screen, "FAIL\t", "the child test failed")
			for _, l := range strings.Split(screen, "\n") {
				assert.LessOrEqual(t, tuiTextWidth(l), size.w, "%q", l)
			}
			if size.h >= 40 {
				assert.Contains(t, screen, "weight 75%")
				assert.Contains(t, screen, "75.0%")
				assert.Contains(t, screen, "25.0%")
				assert.Contains(t, screen, "err  24.0%")
				assert.Contains(t, screen, "error-rate FAILED 0.26")
				assert.Contains(t, screen, "DETECTED")
			} else {
				assert.Len(t, strings.Split(strings.TrimRight(screen, "\n"), "\n"), size.h-1, "the frame cut to the screen, its last row free")
			}
			// redrawn in place: no earlier frame in the scrollback either
			all := s.CaptureAll()
			assert.Equal(t, 1, strings.Count(all, "blastradius live"), "the header once in the history:\n%s", all)
			assert.Equal(t, "0", s.Display("#{cursor_flag}"), "the cursor hidden while drawing")
			colored := s.CaptureColor()
			assert.Contains(t, colored, "38;5;33m", "blue in ANSI 256-colour 33")
			assert.Contains(t, colored, "38;5;40m", "green in ANSI 256-colour 40")

			// Close shows the cursor again and leaves the last screen
			require.NoError(t, os.WriteFile(closeFile, nil, 0o600)) // no key: its echo would move the cursor
			s.waitDisplay(10*time.Second, "#{cursor_flag}", "1")
			after := s.Capture()
			assert.Contains(t, after, "step 3/4")
			assert.Equal(t, 1, strings.Count(after, "blastradius live"))
		})
	}
}

// TestTerminalTmuxChild draws a few States through an interactive
// Terminal on its stdout, then closes it once the file named by
// BE_TUI_CHILD exists.
func TestTerminalTmuxChild(t *testing.T) {
	if os.Getenv(tuiChildEnv) == "" {
		t.Skip("run in a tmux pane by TestTerminalTmux")
	}
	require.True(t, IsTerminal(os.Stdout), "stdout is the pane")
	term := NewTerminal(os.Stdout, true, func() int { return TerminalWidth(os.Stdout) })
	term.SetHeight(func() int { return TerminalHeight(os.Stdout) })

	s := tuiState()
	final := s
	s.Release = &Release{ID: 3, Strategy: "canary", Analyzer: "prometheus", Stable: "blue", Candidate: "bad-green", StartedAt: s.Time}
	s.Analysis = nil
	for step := int64(1); step <= 3; step++ {
		s.Seq++
		s.Time = s.Time.Add(time.Second)
		s.Rollout.Step, s.Rollout.SetWeight = step, 25*step
		if step == 3 {
			final.Rollout = s.Rollout
			final.Rollout.Aborted = true
			final.Release.Outcome = results.OutcomeAborted
			s = final
		}
		term.Show(s)
		time.Sleep(200 * time.Millisecond)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(os.Getenv(tuiChildEnv)); err == nil {
			break
		}
	}
	require.NoError(t, term.Close())
	time.Sleep(time.Minute) // the last screen stays until the session is killed
}
