package demo

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/harness/results"
)

// tuiState is a hand-built State in the middle of a canary release of a bad
// version: step 2 of 4, weight 25 %, an analysis that has failed.
func tuiState() State {
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	ttd, ttr, onset := 12.5, 20.25, 30.0
	s := State{
		Seq:       7,
		Time:      at,
		Phase:     PhaseReleasing,
		Connected: true,
		Platform:  "kind",
		Namespace: "demo",
		Strategy:  "canary",
		Analyzer:  "prometheus",
		Stable:    "blue",
		Versions: map[string]Version{
			"blue":      {Color: "blue", Good: true},
			"bad-green": {Color: "green", Variant: "bad"},
		},
		SLO: SLO{ErrorRate: 0.05},
		Rollout: Rollout{
			Kind: "Rollout", Phase: "Paused", Step: 2, Steps: 4,
			SetWeight: 25, ObservedShare: 24.6, Paused: true,
		},
		ReplicaSets: []ReplicaSet{
			{Name: "demoapp-7c9d", Version: "blue", Replicas: 3, Ready: 3, Pods: []Pod{
				{Name: "a", Ready: true}, {Name: "b", Ready: true}, {Name: "c", Ready: true},
			}},
			{Name: "demoapp-55f1", Version: "bad-green", Replicas: 2, Ready: 1, Pods: []Pod{
				{Name: "d", Ready: true},
				{Name: "e", Waiting: "CrashLoopBackOff", Restarts: 4},
			}},
		},
		Analysis: []AnalysisRun{{
			Name: "demoapp-55f1-2", Phase: "Failed",
			Measurements: []Measurement{
				{Metric: "error-rate", Phase: "Successful", Value: "0.01", At: at.Add(-20 * time.Second)},
				{Metric: "error-rate", Phase: "Failed", Value: "0.26", At: at.Add(-10 * time.Second),
					Explanation: "the candidate fails 26% of requests with HTTP 500"},
			},
		}},
		Release: &Release{
			ID: 3, Strategy: "canary", Analyzer: "prometheus", Stable: "blue", Candidate: "bad-green",
			StartedAt: at.Add(-42 * time.Second), Requests: 12345, Failed: 321, UsersAffected: 57,
			SinceOnsetS: &onset, ElapsedS: 42, Outcome: results.OutcomeAborted,
			Score: &Score{Verdict: results.VerdictDetected, FailedRequests: 321, TotalRequests: 12345,
				UsersAffected: 57, TimeToDetectS: &ttd, TimeToRecoverS: &ttr},
		},
		Log: []LogLine{
			{Time: at.Add(-42 * time.Second), Kind: LogInfo, Text: "releasing bad-green with canary"},
			{Time: at.Add(-1 * time.Second), Kind: LogVerdict, Text: "release #3 detected"},
		},
	}
	// the last 5 s: blue 75 req/s, bad-green 25 req/s of which a quarter fail
	for i := int64(0); i < 8; i++ {
		s.Series = append(s.Series, Tick{Unix: at.Unix() - 7 + i, Versions: map[string]TickStats{
			"blue":      {Requests: 75},
			"bad-green": {Requests: 25, Failed: 6},
		}})
	}
	return s
}

func TestRenderTerminal(t *testing.T) {
	out := RenderTerminal(tuiState(), 140, false)
	t.Log("\n" + out)

	assert.Contains(t, out, "blastradius live")
	assert.Contains(t, out, "kind")
	assert.Contains(t, out, "releasing")
	assert.Contains(t, out, "stable blue")
	assert.Contains(t, out, "strategy canary")
	assert.Contains(t, out, "analyzer prometheus")
	assert.NotContains(t, out, "unreachable")

	// the step, the weight, the observed share, the pause
	assert.Contains(t, out, "step 2/4")
	assert.Contains(t, out, "weight 25%")
	assert.Contains(t, out, "observed 24.6%")
	assert.Contains(t, out, "[PAUSED]")

	// the shares of the last 5 s: 75 and 25 req/s, a 24 % error rate
	blue, green := lineWith(t, out, "blue", "req/s"), lineWith(t, out, "bad-green", "req/s")
	assert.Contains(t, blue, "75.0%")
	assert.Contains(t, blue, "75.0 req/s")
	assert.Contains(t, blue, "err   0.0%")
	assert.Contains(t, green, "25.0%")
	assert.Contains(t, green, "25.0 req/s")
	assert.Contains(t, green, "err  24.0%")

	// the pods
	pods := lineWith(t, out, "bad-green", "1/2 ready")
	assert.Contains(t, pods, "●✕")
	assert.Contains(t, pods, "CrashLoopBackOff")
	assert.Contains(t, pods, "4 restarts")
	assert.Contains(t, lineWith(t, out, "blue", "3/3 ready"), "●●●")

	// the analysis: the run's phase, each measurement's verdict
	assert.Contains(t, lineWith(t, out, "demoapp-55f1-2"), "[FAILED]")
	assert.Contains(t, lineWith(t, out, "[SUCCESSFUL]"), "0.01")
	failed := lineWith(t, out, "error-rate [FAILED]")
	assert.Contains(t, failed, "0.26")
	assert.Contains(t, failed, "the candidate fails 26% of requests")

	// the blast radius and the score
	assert.Contains(t, out, "release #3")
	assert.Contains(t, out, "requests 12,345")
	assert.Contains(t, out, "failed 321 (2.6%)")
	assert.Contains(t, out, "users affected 57")
	assert.Contains(t, out, "onset 30s ago")
	assert.Contains(t, out, "outcome aborted")
	score := lineWith(t, out, "score")
	assert.Contains(t, score, "[DETECTED]")
	assert.Contains(t, score, "failed 321/12,345")
	assert.Contains(t, score, "users affected 57")
	assert.Contains(t, score, "time to detect 12.5s, recover 20.2s")

	// the log
	assert.Contains(t, out, "releasing bad-green with canary")
	assert.Contains(t, out, "release #3 detected")
}

// lineWith returns the first line of out holding every one of subs.
func lineWith(t *testing.T, out string, subs ...string) string {
	t.Helper()
next:
	for _, l := range strings.Split(out, "\n") {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		return l
	}
	t.Fatalf("no line holds %q in\n%s", subs, out)
	return ""
}

func TestRenderTerminalStates(t *testing.T) {
	s := tuiState()
	s.Connected = false
	s.Notice = "API server unreachable: reconnecting"
	s.Rollout.SetWeight, s.Rollout.ObservedShare = -1, -1
	s.Rollout.Paused, s.Rollout.Aborted = false, true
	s.Release.Score, s.Release.Outcome = nil, ""
	out := RenderTerminal(s, 120, false)
	t.Log("\n" + out)
	lines := strings.Split(out, "\n")
	assert.Contains(t, lines[1], "API server unreachable: reconnecting", "the notice comes right below the header")
	assert.Contains(t, out, "weight -")
	assert.Contains(t, out, "observed -")
	assert.Contains(t, out, "[ABORTED]")
	assert.Contains(t, out, "outcome pending")
	assert.NotContains(t, out, "score")
	assert.Contains(t, lineWith(t, out, "bad-green", "req/s"), "candidate")

	// nothing at all yet
	out = RenderTerminal(State{Phase: PhaseStarting, Connected: true, Rollout: Rollout{SetWeight: -1, ObservedShare: -1}}, 80, false)
	for _, want := range []string{"starting", "no requests", "no workload yet", "no analysis runs", "no release yet"} {
		assert.Contains(t, out, want)
	}

	// the notice is highlighted in colour
	out = RenderTerminal(State{Notice: "API server unreachable: reconnecting"}, 80, true)
	assert.Contains(t, out, "\x1b["+sgrNotice+"m")
}

func TestRenderTerminalWidth(t *testing.T) {
	s := tuiState()
	s.Analysis[0].Measurements[1].Explanation = strings.Repeat("a very long explanation ", 40) + "日本語の説明"
	s.Log = append(s.Log, LogLine{Kind: LogError, Text: strings.Repeat("x", 500)})
	for _, width := range []int{20, 40, 80, 100, 173} {
		for _, color := range []bool{false, true} {
			out := RenderTerminal(s, width, color)
			require.True(t, strings.HasSuffix(out, "\n"))
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				assert.LessOrEqual(t, tuiVisibleWidth(l), width, "width %d color %v: %q", width, color, l)
				assert.True(t, utf8.ValidString(l))
			}
			if color {
				assert.Contains(t, out, "\x1b[")
			}
		}
	}
	// a cut line ends with an ellipsis
	out := RenderTerminal(s, 60, false)
	assert.True(t, strings.HasSuffix(lineWith(t, out, "error-rate [FAILED]"), "…"))
	// an unknown width is the default
	for _, l := range strings.Split(strings.TrimSuffix(RenderTerminal(s, 0, false), "\n"), "\n") {
		assert.LessOrEqual(t, tuiVisibleWidth(l), DefaultTerminalWidth)
	}
	assert.Equal(t, DefaultTerminalWidth, tuiTextWidth(lineWith(t, RenderTerminal(s, 0, false), "─ log ")))
}

func TestRenderTerminalNoColor(t *testing.T) {
	out := RenderTerminal(tuiState(), 100, false)
	assert.NotContains(t, out, "\x1b")
	for _, c := range out {
		if c < 0x20 && c != '\n' {
			t.Fatalf("control character %q in %q", c, out)
		}
	}
	colored := RenderTerminal(tuiState(), 100, true)
	assert.Contains(t, colored, "\x1b[38;5;33m", "blue is ANSI 256-colour 33")
	assert.Contains(t, colored, "\x1b["+sgrFail+"mFAILED\x1b[0m")
	assert.Contains(t, colored, "\x1b["+sgrOK+"mDETECTED\x1b[0m")
	// a #rrggbb colour is truecolor
	assert.Equal(t, "38;2;34;197;94", tuiColorSGR("#22c55e"))
	assert.Equal(t, "38;5;245", tuiColorSGR("chartreuse"))
}

// hostile is text an LLM or a log could produce to take over the terminal.
const hostile = "before\x1b[2J\x1b[H\x1b[31;1mred\x1b[0m \x1b]0;pwned title\x07\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\" +
	"\x1bP+q544e\x1b\\ \x1b7\x1bc\x1b(B\x07bell\bback\rreturn\nnewline\ttab\x7f\x00nul\u009b2J\u009d0;c1\u009c" +
	"\u202eevil-bidi\u202c \xffinvalid after"

func TestRenderTerminalSanitizes(t *testing.T) {
	assert.Equal(t, "beforered link bellback return newline tabnulevil-bidi \uFFFDinvalid after", sanitizeTerminal(hostile))
	assert.Equal(t, "plain text · ok", sanitizeTerminal("plain text · ok"))
	assert.Equal(t, "cut", sanitizeTerminal("cut\x1b[12"), "an unfinished sequence is dropped")
	assert.Equal(t, "cut", sanitizeTerminal("cut\x1b]0;title"), "an unterminated string is dropped")

	s := tuiState()
	s.Analysis[0].Measurements[1].Explanation = hostile
	s.Analysis[0].Measurements[1].Value = "0.26\x1b[1A"
	s.Log = append(s.Log, LogLine{Kind: LogInfo, Text: "log " + hostile})
	s.Rollout.Message = "msg " + hostile
	s.Notice, s.Connected = "notice "+hostile, false
	s.Release.Candidate = "bad-green\x1b[2J"
	for _, color := range []bool{false, true} {
		out := RenderTerminal(s, 400, color)
		assert.NotContains(t, out, "\x1b[2J")
		assert.NotContains(t, out, "\x1b]")
		assert.NotContains(t, out, "\x1bP")
		assert.NotContains(t, out, "\x1b[1A")
		assert.NotContains(t, out, "\u009b")
		assert.NotContains(t, out, "\u202e")
		for _, c := range out {
			if (c < 0x20 && c != '\n' && c != 0x1b) || (c >= 0x7f && c <= 0x9f) {
				t.Fatalf("control character %q in %q", c, out)
			}
		}
		if !color {
			assert.NotContains(t, out, "\x1b")
		} else {
			// every escape left is one of the view's own colours
			for _, l := range strings.Split(out, "\n") {
				for i := strings.Index(l, "\x1b"); i >= 0; i = strings.Index(l, "\x1b") {
					j := strings.IndexByte(l[i:], 'm')
					require.Positive(t, j, "an escape that is not SGR in %q", l)
					for _, c := range l[i+2 : i+j] {
						require.True(t, c == ';' || (c >= '0' && c <= '9'), "an escape that is not SGR in %q", l)
					}
					l = l[i+j+1:]
				}
			}
		}
		plain := RenderTerminal(s, 400, false)
		assert.Contains(t, plain, "beforered link bellback return newline tab")
		assert.Contains(t, plain, "evil-bidi")
		assert.Contains(t, plain, "0.26 ")
	}
}

func TestTerminalNonInteractive(t *testing.T) {
	var out bytes.Buffer
	term := NewTerminal(&out, false, nil)
	s := tuiState()
	s.Release.Score, s.Release.Outcome = nil, ""
	s.Analysis[0].Phase = "Running"
	s.Analysis[0].Measurements = s.Analysis[0].Measurements[:1]
	s.Log = s.Log[:1]

	term.Show(s)
	first := out.String()
	t.Log("\n" + first)
	assert.Contains(t, first, "releasing bad-green with canary")
	assert.Contains(t, first, "phase    releasing\n")
	assert.Contains(t, first, "setup    platform kind, namespace demo, stable blue, next release: strategy canary, analyzer prometheus")
	assert.Contains(t, first, "rollout  Rollout Paused, step 2/4, weight 25%, paused")
	assert.Contains(t, first, "#3 started: blue → bad-green")
	assert.Contains(t, first, "[SUCCESSFUL] 0.01")
	assert.NotContains(t, first, "\x1b")

	// nothing changed: nothing printed, even as time and traffic go on
	out.Reset()
	s.Seq++
	s.Time = s.Time.Add(time.Second)
	s.Rollout.ObservedShare = 25.3
	s.Release.ElapsedS++
	s.Release.Requests += 100
	term.Show(s)
	term.Show(s)
	assert.Empty(t, out.String())

	// each change once
	s.Time = s.Time.Add(time.Second)
	s.Rollout.Step, s.Rollout.SetWeight, s.Rollout.Paused, s.Rollout.Phase = 3, 50, false, "Progressing"
	s.Analysis[0].Phase = "Failed"
	s.Analysis[0].Measurements = tuiState().Analysis[0].Measurements
	s.Log = tuiState().Log
	s.Release.Outcome = results.OutcomeAborted
	term.Show(s)
	term.Show(s)
	s.Time = s.Time.Add(time.Second)
	s.Phase = PhaseSettling
	term.Show(s)
	term.Show(s)
	s.Time = s.Time.Add(time.Second)
	s.Release.Score = tuiState().Release.Score
	s.Phase = PhaseIdle
	s.Stable, s.Strategy = "green", "blue-green"
	term.Show(s)
	term.Show(s)
	s.Connected, s.Notice = false, "API server unreachable: reconnecting"
	term.Show(s)
	term.Show(s)
	s.Connected = true
	term.Show(s)
	term.Show(s)

	got := out.String()
	t.Log("\n" + got)
	assert.NotContains(t, got, "\x1b")
	want := []string{
		"verdict  release #3 detected",
		"rollout  Rollout Progressing, step 3/4, weight 50%",
		"analysis demoapp-55f1-2 Failed",
		"[FAILED] 0.26 — the candidate fails 26% of requests",
		"#3 bad-green: aborted after 43s",
		"phase    settling",
		"phase    idle",
		"setup    platform kind, namespace demo, stable green, next release: strategy blue-green, analyzer prometheus",
		"score    #3 bad-green: DETECTED, 321 of 12,345 requests failed, 57 users affected, time to detect 12.5s, time to recover 20.2s",
		"api      API server unreachable: reconnecting",
		"api      API server reachable again",
	}
	for _, w := range want {
		assert.Equal(t, 1, strings.Count(got, w), "%q once", w)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	assert.Len(t, lines, len(want))
	seen := map[string]bool{}
	for _, l := range strings.Split(first+got, "\n") {
		if l != "" {
			assert.False(t, seen[l], "%q twice", l)
			seen[l] = true
		}
	}
	assert.NotContains(t, got, "SUCCESSFUL", "the measurement seen before is not printed again")
	assert.NotContains(t, got, "releasing bad-green with canary", "the log line seen before is not printed again")

	// a hostile log line is printed clean
	out.Reset()
	s.Log = append(s.Log, LogLine{Time: s.Time, Kind: LogError, Text: hostile})
	term.Show(s)
	assert.Contains(t, out.String(), "beforered link")
	assert.NotContains(t, out.String(), "\x1b")
	assert.Equal(t, 1, strings.Count(out.String(), "\n"))
	require.NoError(t, term.Close())
}

func TestTerminalInteractive(t *testing.T) {
	var out bytes.Buffer
	width := 90
	term := NewTerminal(&out, true, func() int { return width })
	s := tuiState()
	term.Show(s)
	first := out.String()
	require.True(t, strings.HasPrefix(first, "\x1b[?25l\x1b[H"), "hides the cursor, then homes: %q", first[:20])
	assert.True(t, strings.HasSuffix(first, "\x1b[J"), "clears the rest of the screen")
	assert.Contains(t, first, "step 2/4")
	assert.Equal(t, 1, strings.Count(first, "blastradius live"))
	assert.NotContains(t, first, "\n\n", "lines end with CR LF")
	for _, l := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(first, "\x1b[?25l\x1b[H"), "\x1b[J"), "\r\n") {
		assert.LessOrEqual(t, tuiVisibleWidth(l), width, "%q", l)
	}

	// the same frame again is not redrawn
	out.Reset()
	term.Show(s)
	assert.Empty(t, out.String())

	// a change redraws from home, cursor still hidden
	s.Rollout.Step, s.Rollout.SetWeight = 3, 50
	width = 60
	term.Show(s)
	next := out.String()
	assert.True(t, strings.HasPrefix(next, "\x1b[H"), "%q", next[:10])
	assert.NotContains(t, next, "\x1b[?25l")
	assert.True(t, strings.HasSuffix(next, "\x1b[J"))
	assert.Contains(t, next, "step 3/4")

	// a frame cut to the screen's height never scrolls
	out.Reset()
	term.SetHeight(func() int { return 5 })
	s.Rollout.Step = 4
	term.Show(s)
	assert.Equal(t, 3, strings.Count(out.String(), "\r\n"), "4 lines: the last row stays free")

	out.Reset()
	require.NoError(t, term.Close())
	assert.Equal(t, "\r\n\x1b[?25h", out.String(), "shows the cursor, below the last screen")
	out.Reset()
	term.Show(s)
	require.NoError(t, term.Close())
	assert.Empty(t, out.String(), "nothing after Close")
}

func TestTerminalHelpers(t *testing.T) {
	assert.False(t, IsTerminal(nil))
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, IsTerminal(f))
	assert.Equal(t, DefaultTerminalWidth, TerminalWidth(f))
	assert.Equal(t, 0, TerminalHeight(f))
	assert.Equal(t, "12,345,678", tuiCount(12345678))
	assert.Equal(t, "-1,000", tuiCount(-1000))
	assert.Equal(t, "999", tuiCount(999))
	assert.Equal(t, "4.2s", tuiDuration(4.2))
	assert.Equal(t, "42s", tuiDuration(42))
	assert.Equal(t, "3m05s", tuiDuration(185))
	assert.Equal(t, 2, tuiTextWidth("日"))
	assert.Equal(t, 1, tuiTextWidth("e\u0301"))
}
