package llm

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blastradius/blastradius/harness/analyzer"
)

// Bounds on what goes into a prompt.
const (
	MaxLogLines     = 40      // per version, newest kept
	MaxLogLineBytes = 512     // per line, longer ones are cut
	MaxLogBytes     = 8 << 10 // per version, all lines together
	MaxSeriesPoints = 120     // per version, newest kept
	MaxRawAnswer    = 8 << 10 // bytes of the model's answer kept in Call.Raw
	maxErrorBody    = 4 << 10 // bytes of an HTTP error body read
)

// Num is a float that marshals NaN and ±Inf (no data) as JSON null.
type Num float64

// MarshalJSON writes null for NaN and ±Inf.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', 6, 64), nil
}

// Evidence is everything the judge is shown about one analysis. The
// harness builds it (EvidenceFromInput gives the metric parts); its JSON is
// the prompt's data.
type Evidence struct {
	SLO       SLO     `json:"slo"`
	Step      int     `json:"rolloutStep"`        // index of the rollout step (Argo's currentStepIndex); -1 unknown
	SetWeight float64 `json:"candidateWeightPct"` // the candidate's set traffic weight, percent; -1 unknown
	// From and To bound the window the summaries cover, seconds since the
	// trace's start: (From, To].
	From      Num            `json:"windowFromSeconds"`
	To        Num            `json:"windowToSeconds"`
	Stable    VersionSummary `json:"stable"`
	Candidate VersionSummary `json:"candidate"`
	// StableSeries and CandidateSeries are the per-interval points in the
	// window, oldest first, at most MaxSeriesPoints each.
	StableSeries    []SeriesPoint `json:"stableSeries"`
	CandidateSeries []SeriesPoint `json:"candidateSeries"`
	// Logs are log excerpts, untrusted text: the prompt puts them apart,
	// labelled as data. Bounded by BoundLogs.
	Logs []LogExcerpt `json:"-"`
}

// SLO is what the service promises.
type SLO struct {
	MaxErrorRate  Num `json:"maxErrorRate"`  // fraction of 5xx responses
	MaxP99Seconds Num `json:"maxP99Seconds"` // 0: not promised
}

// VersionSummary is one version over the evidence's window.
type VersionSummary struct {
	Requests          Num            `json:"requests"`
	RequestsPerSecond Num            `json:"requestsPerSecond"`
	ErrorRate         Num            `json:"errorRate"`              // null without requests
	ErrorsByCode      map[string]Num `json:"errorsByCode,omitempty"` // e.g. "503": 12; absent when unknown
	P50Seconds        Num            `json:"p50Seconds"`             // null without observations
	P90Seconds        Num            `json:"p90Seconds"`
	P99Seconds        Num            `json:"p99Seconds"`
	Restarts          int            `json:"restarts"` // process restarts seen in the window
	ReadyPods         int            `json:"readyPods"`
	Pods              int            `json:"pods"`
	OOMKills          *int           `json:"oomKills,omitempty"` // absent when unknown
}

// SeriesPoint is one interval of one version.
type SeriesPoint struct {
	T          Num `json:"t"` // the interval's end, seconds since the trace's start
	Requests   Num `json:"requests"`
	Errors     Num `json:"errors"`
	P99Seconds Num `json:"p99Seconds"`
}

// LogExcerpt is log lines of one version.
type LogExcerpt struct {
	Version string   `json:"version"` // "stable" or "candidate"
	Lines   []string `json:"lines"`   // as BoundLogs leaves them: newest first
}

// EvidenceFromInput builds the metric parts of an Evidence from an analysis
// input: the window is the candidate's whole range so far, from the start of
// its first point to in.Now, as the comparing analyzers use, and the stable's
// points over the same range. logs are given oldest line first (as read from
// a pod) and bounded with BoundLogs. Step and SetWeight are the caller's.
func EvidenceFromInput(in analyzer.Input, logs ...LogExcerpt) Evidence {
	p := in.Params.WithDefaults()
	from := in.Now
	if len(in.Candidate) > 0 {
		from = in.Candidate[0].T - in.Step
	}
	ev := Evidence{
		SLO:             SLO{MaxErrorRate: Num(p.MaxErrorRate), MaxP99Seconds: Num(p.MaxP99.Seconds())},
		From:            Num(from),
		To:              Num(in.Now),
		Stable:          summarize(in.Stable, from, in.Now, in.Bounds),
		Candidate:       summarize(in.Candidate, from, in.Now, in.Bounds),
		StableSeries:    series(in.Stable, from, in.Now, in.Bounds),
		CandidateSeries: series(in.Candidate, from, in.Now, in.Bounds),
	}
	for _, l := range logs {
		ev.Logs = append(ev.Logs, LogExcerpt{Version: l.Version, Lines: BoundLogs(l.Lines)})
	}
	return ev
}

func summarize(points []analyzer.Point, from, to float64, bounds []float64) VersionSummary {
	s := analyzer.Sum(points, from, to)
	rps := math.NaN()
	if to > from {
		rps = s.Requests / (to - from)
	}
	return VersionSummary{
		Requests:          Num(s.Requests),
		RequestsPerSecond: Num(rps),
		ErrorRate:         Num(s.ErrorRate()),
		P50Seconds:        Num(s.Quantile(0.5, bounds)),
		P90Seconds:        Num(s.Quantile(0.9, bounds)),
		P99Seconds:        Num(s.Quantile(0.99, bounds)),
		Restarts:          s.Restarts,
		ReadyPods:         s.Ready,
		Pods:              s.Pods,
	}
}

func series(points []analyzer.Point, from, to float64, bounds []float64) []SeriesPoint {
	var out []SeriesPoint
	for _, p := range points {
		if p.T > from && p.T <= to {
			out = append(out, SeriesPoint{T: Num(p.T), Requests: Num(p.Requests), Errors: Num(p.Errors), P99Seconds: Num(p.Quantile(0.99, bounds))})
		}
	}
	if len(out) > MaxSeriesPoints {
		out = out[len(out)-MaxSeriesPoints:]
	}
	return out
}

// BoundLogs takes log lines oldest first and returns at most MaxLogLines of
// them, newest first, each cleaned by CleanLine and cut to MaxLogLineBytes,
// MaxLogBytes in all. Empty lines are dropped.
func BoundLogs(lines []string) []string {
	var out []string
	total := 0
	for i := len(lines) - 1; i >= 0 && len(out) < MaxLogLines; i-- {
		l := truncate(CleanLine(lines[i]), MaxLogLineBytes)
		if l == "" {
			continue
		}
		if total+len(l) > MaxLogBytes {
			break
		}
		total += len(l)
		out = append(out, l)
	}
	return out
}

// CleanLine makes one untrusted log line safe to embed: invalid UTF-8 and
// control characters (newlines, escape sequences, bidi overrides, ...)
// become spaces or are dropped, and the result is trimmed.
func CleanLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			// dropped: C0/C1 controls, ANSI escapes' ESC, zero-width and bidi format characters
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
