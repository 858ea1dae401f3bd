package demo

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/blastradius/blastradius/harness/results"
)

// The terminal view (blastradius demo --tui): RenderTerminal draws one
// State as a tuiScreen of text; a Terminal shows a stream of States, redrawn
// in place on a TTY, or as plain log lines when the output is not one.
//
// Everything printed passes through sanitize: text that comes from outside
// the harness (an analyzer's explanation, Argo's messages, log text) cannot
// move the cursor, change colours or retitle the window.

// DefaultTerminalWidth is the width used when the terminal's is unknown.
const DefaultTerminalWidth = 100

const (
	tuiShareWindowS = 5 // seconds of Series the bars summarize
	tuiMaxRuns      = 2 // analysis runs shown, newest last
	tuiMaxMeasures  = 3 // measurements shown per run, newest last
	tuiMaxLog       = 6 // log lines shown
	tuiMaxHistory   = 4 // ended releases named on the "earlier" line
	tuiMinWidth     = 20
)

// SGR parameters (ANSI 256-colour) of the view's styles.
const (
	sgrHeader = "1;97;48;5;24"
	sgrNotice = "1;97;48;5;160"
	sgrRule   = "38;5;242"
	sgrDim    = "38;5;245"
	sgrBold   = "1"
	sgrOK     = "1;38;5;40"
	sgrFail   = "1;38;5;196"
	sgrWarn   = "1;38;5;214"
	sgrError  = "1;38;5;201"
	sgrTrack  = "38;5;238"
)

// tuiAnsi256 maps the catalog's colours to ANSI 256-colour indexes.
var tuiAnsi256 = map[string]int{
	"blue":   33,
	"green":  40,
	"yellow": 220,
	"orange": 208,
	"red":    196,
	"purple": 135,
	"grey":   248,
	"gray":   248,
}

const (
	tuiUnattributedANSI = 248 // requests no version answered
	tuiUnknownANSI      = 245 // a version that is not a catalog colour
)

// RenderTerminal draws s as a tuiScreen of text lines, each at most width
// columns (cut, never wrapped). With color false it emits no escape codes.
func RenderTerminal(s State, width int, color bool) string {
	lines := tuiRenderLines(s, width, color)
	return strings.Join(lines, "\n") + "\n"
}

func tuiRenderLines(s State, width int, color bool) []string {
	if width <= 0 {
		width = DefaultTerminalWidth
	}
	if width < tuiMinWidth {
		width = tuiMinWidth
	}
	r := &tuiScreen{s: s, width: width, color: color}
	r.header()
	r.traffic()
	r.rollout()
	r.analysis()
	r.release()
	r.log()
	return r.out
}

// tuiSpan is a piece of a line in one style ("" plain).
type tuiSpan struct{ text, sgr string }

func tuiPlain(s string) tuiSpan           { return tuiSpan{text: s} }
func tuiStyled(sgr, s string) tuiSpan     { return tuiSpan{text: s, sgr: sgr} }
func tuiDim(s string) tuiSpan             { return tuiSpan{text: s, sgr: sgrDim} }
func tuiBold(s string) tuiSpan            { return tuiSpan{text: s, sgr: sgrBold} }
func tuiSpans(ss ...tuiSpan) []tuiSpan    { return ss }
func tuiSep() tuiSpan                     { return tuiDim(" · ") }
func tuiLabel(name, value string) tuiSpan { return tuiPlain(name + " " + value) }

type tuiScreen struct {
	s     State
	width int
	color bool
	out   []string
}

// add renders one line, sanitized and cut to the width.
func (r *tuiScreen) add(ss ...tuiSpan) { r.out = append(r.out, tuiRenderLine(ss, r.width, r.color)) }

// rule is a section heading drawn across the width.
func (r *tuiScreen) rule(title string) {
	t := "─ " + title + " "
	n := r.width - tuiTextWidth(t)
	if n < 0 {
		n = 0
	}
	r.add(tuiStyled(sgrRule, t+strings.Repeat("─", n)))
}

// tuiRenderLine joins the spans, sanitizing every text and cutting the line
// at width columns with an ellipsis.
func tuiRenderLine(ss []tuiSpan, width int, color bool) string {
	total := 0
	for i := range ss {
		ss[i].text = sanitizeTerminal(ss[i].text)
		total += tuiTextWidth(ss[i].text)
	}
	budget, cut := width, false
	if total > width {
		budget, cut = width-1, true
	}
	var b strings.Builder
	used := 0
	for _, sp := range ss {
		if sp.text == "" {
			continue
		}
		text, full := sp.text, true
		if w := tuiTextWidth(text); used+w > budget {
			text, full = tuiFitWidth(text, budget-used), false
		}
		if text != "" {
			used += tuiTextWidth(text)
			if color && sp.sgr != "" {
				b.WriteString("\x1b[" + sp.sgr + "m" + text + "\x1b[0m")
			} else {
				b.WriteString(text)
			}
		}
		if !full {
			break
		}
	}
	if cut {
		b.WriteString("…")
	}
	return b.String()
}

// tuiFitWidth returns the longest prefix of s at most n columns wide.
func tuiFitWidth(s string, n int) string {
	w := 0
	for i, c := range s {
		cw := tuiRuneWidth(c)
		if w+cw > n {
			return s[:i]
		}
		w += cw
	}
	return s
}

// tuiPad fills s with spaces to n columns, or cuts it to n.
func tuiPad(s string, n int) string {
	s = sanitizeTerminal(s)
	if w := tuiTextWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return tuiFitWidth(s, n)
}

func (r *tuiScreen) header() {
	s := r.s
	ss := tuiSpans(tuiStyled(sgrHeader, " blastradius live "), tuiPlain(" "))
	add := func(parts ...tuiSpan) {
		if len(ss) > 2 {
			ss = append(ss, tuiSep())
		}
		ss = append(ss, parts...)
	}
	if s.Platform != "" {
		add(tuiPlain(s.Platform))
	}
	if s.Namespace != "" {
		add(tuiPlain("ns " + s.Namespace))
	}
	add(tuiBold(tuiOrDash(string(s.Phase))))
	if s.Stable != "" {
		add(tuiPlain("stable "), r.version(s.Stable))
	}
	add(tuiLabel("strategy", tuiOrDash(s.Strategy)))
	add(tuiLabel("analyzer", tuiOrDash(s.Analyzer)))
	r.add(ss...)
	if s.Dashboard != "" {
		r.add(tuiDim(" dashboard " + s.Dashboard))
	}
	if !s.Connected {
		notice := s.Notice
		if notice == "" {
			notice = "API server unreachable"
		}
		if r.color {
			r.add(tuiStyled(sgrNotice, tuiPad(" ⚠ "+notice, r.width)))
		} else {
			r.add(tuiPlain("[!] " + notice))
		}
	}
}

// version is a version tag in its colour.
func (r *tuiScreen) version(tag string) tuiSpan {
	if tag == "" {
		return tuiStyled(tuiFgANSI(tuiUnattributedANSI), "unattributed")
	}
	return tuiStyled(r.versionSGR(tag), tag)
}

func (r *tuiScreen) versionSGR(tag string) string {
	if tag == "" {
		return tuiFgANSI(tuiUnattributedANSI)
	}
	c := ""
	if v, ok := r.s.Versions[tag]; ok {
		c = v.Color
	}
	if c == "" { // not in Versions: a catalog tag is color or prefix-color
		c = tag[strings.LastIndexByte(tag, '-')+1:]
	}
	return tuiColorSGR(c)
}

func tuiFgANSI(n int) string { return "38;5;" + strconv.Itoa(n) }

// tuiColorSGR maps a colour name, or #rrggbb (truecolor), to an SGR foreground.
func tuiColorSGR(c string) string {
	c = strings.ToLower(strings.TrimSpace(c))
	if n, ok := tuiAnsi256[c]; ok {
		return tuiFgANSI(n)
	}
	var rr, gg, bb int
	if len(c) == 7 && c[0] == '#' {
		if _, err := fmt.Sscanf(c, "#%02x%02x%02x", &rr, &gg, &bb); err == nil {
			return fmt.Sprintf("38;2;%d;%d;%d", rr, gg, bb)
		}
	}
	return tuiFgANSI(tuiUnknownANSI)
}

// tuiShare is one version's requests in the window of the bars.
type tuiShare struct {
	tag                string
	requests, failed   int64
	perS, errPct, pctN float64
}

// tuiShares sums the last tuiShareWindowS seconds of s.Series by version: the
// stable version first, the candidate of a release in progress next, then
// the others by tag, unattributed requests last.
func tuiShares(s State) ([]tuiShare, int) {
	sum := map[string]*tuiShare{}
	get := func(tag string) *tuiShare {
		if sum[tag] == nil {
			sum[tag] = &tuiShare{tag: tag}
		}
		return sum[tag]
	}
	seconds := 0
	if n := len(s.Series); n > 0 {
		last := s.Series[n-1].Unix
		first := last
		for i := n - 1; i >= 0 && s.Series[i].Unix > last-tuiShareWindowS; i-- {
			first = s.Series[i].Unix
			for tag, st := range s.Series[i].Versions {
				sh := get(tag)
				sh.requests += st.Requests
				sh.failed += st.Failed
			}
		}
		seconds = int(last-first) + 1
	}
	if s.Stable != "" {
		get(s.Stable)
	}
	cand := tuiCandidate(s)
	if cand != "" {
		get(cand)
	}
	var total int64
	for _, sh := range sum {
		total += sh.requests
	}
	out := make([]tuiShare, 0, len(sum))
	for _, sh := range sum {
		if sh.requests == 0 && sh.tag != s.Stable && sh.tag != cand {
			continue
		}
		if seconds > 0 {
			sh.perS = float64(sh.requests) / float64(seconds)
		}
		if sh.requests > 0 {
			sh.errPct = 100 * float64(sh.failed) / float64(sh.requests)
		}
		if total > 0 {
			sh.pctN = 100 * float64(sh.requests) / float64(total)
		}
		out = append(out, *sh)
	}
	rank := func(tag string) int {
		switch {
		case tag == "":
			return 3
		case tag == s.Stable:
			return 0
		case tag == cand:
			return 1
		}
		return 2
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].tag), rank(out[j].tag); ri != rj {
			return ri < rj
		}
		return out[i].tag < out[j].tag
	})
	return out, seconds
}

// tuiCandidate is the candidate of the release in progress, if any.
func tuiCandidate(s State) string {
	if s.Release != nil && s.Release.Score == nil {
		return s.Release.Candidate
	}
	return ""
}

func (r *tuiScreen) traffic() {
	s := r.s
	r.rule(fmt.Sprintf("traffic · last %d s", tuiShareWindowS))
	sh, _ := tuiShares(s)
	var total int64
	for _, x := range sh {
		total += x.requests
	}
	if total == 0 {
		r.add(tuiDim("  no requests in the last seconds"))
	}
	cand := tuiCandidate(s)
	const tagW, roleW = 16, 10
	for _, x := range sh {
		role := ""
		switch x.tag {
		case s.Stable:
			role = "stable"
		case cand:
			role = "candidate"
		}
		tag := x.tag
		if tag == "" {
			tag = "unattributed"
		}
		stats := fmt.Sprintf(" %5.1f%%  %7.1f req/s  err %5.1f%%", x.pctN, x.perS, x.errPct)
		barW := r.width - 2 - tagW - roleW - tuiTextWidth(stats)
		if barW < 10 {
			barW = 10
		}
		filled := int(math.Round(x.pctN / 100 * float64(barW)))
		glyph := "█"
		if v, ok := s.Versions[x.tag]; ok && (v.Variant != "" || !v.Good) && x.tag != "" {
			glyph = "▓" // a defective version stays apart from the healthy one of its colour
		}
		errSGR := ""
		if x.errPct > 0 && s.SLO.ErrorRate > 0 && x.errPct/100 > s.SLO.ErrorRate {
			errSGR = sgrFail
		}
		pctErr := fmt.Sprintf("%5.1f%%", x.errPct)
		r.add(tuiPlain("  "), tuiStyled(r.versionSGR(x.tag), tuiPad(tag, tagW)), tuiDim(tuiPad(role, roleW)),
			tuiStyled(r.versionSGR(x.tag), strings.Repeat(glyph, filled)),
			tuiStyled(sgrTrack, strings.Repeat("░", barW-filled)),
			tuiPlain(fmt.Sprintf(" %5.1f%%  %7.1f req/s  err ", x.pctN, x.perS)), tuiStyled(errSGR, pctErr))
	}
}

func (r *tuiScreen) rollout() {
	s := r.s
	r.rule("rollout")
	ro := s.Rollout
	if ro.Kind == "" {
		r.add(tuiDim("  no workload yet"))
	} else {
		ss := tuiSpans(tuiPlain("  "), tuiBold(ro.Kind), tuiPlain(" "), tuiStyled(tuiRolloutPhaseSGR(ro.Phase), tuiOrDash(ro.Phase)), tuiSep(), tuiPlain(tuiStepText(ro)),
			tuiSep(), tuiPlain(tuiWeightText(ro)), tuiSep(), tuiPlain(tuiObservedText(ro)))
		if ro.Paused {
			ss = append(ss, tuiSep(), r.flag(sgrWarn, "PAUSED"))
		}
		if ro.Aborted {
			ss = append(ss, tuiSep(), r.flag(sgrFail, "ABORTED"))
		}
		if ro.Message != "" {
			ss = append(ss, tuiSep(), tuiDim(ro.Message))
		}
		r.add(ss...)
	}
	for _, rs := range s.ReplicaSets {
		ss := tuiSpans(tuiPlain("  "), tuiStyled(r.versionSGR(rs.Version), tuiPad(tuiOrDash(rs.Version), 16)),
			tuiPlain(fmt.Sprintf("%d/%d ready  ", rs.Ready, rs.Replicas)))
		restarts := int32(0)
		waiting := map[string]int{}
		for _, p := range rs.Pods {
			restarts += p.Restarts
			switch {
			case p.Gone:
				ss = append(ss, tuiDim("◌"))
			case p.Waiting != "":
				waiting[p.Waiting]++
				ss = append(ss, tuiStyled(sgrFail, "✕"))
			case p.Ready:
				ss = append(ss, tuiStyled(sgrOK, "●"))
			default:
				ss = append(ss, tuiStyled(sgrWarn, "○"))
			}
		}
		reasons := make([]string, 0, len(waiting))
		for w := range waiting {
			reasons = append(reasons, w)
		}
		sort.Strings(reasons)
		for _, w := range reasons {
			txt := w
			if waiting[w] > 1 {
				txt = fmt.Sprintf("%s ×%d", w, waiting[w])
			}
			ss = append(ss, tuiPlain("  "), tuiStyled(sgrFail, txt))
		}
		if restarts > 0 {
			ss = append(ss, tuiPlain("  "), tuiStyled(sgrWarn, fmt.Sprintf("↻ %d restart%s", restarts, tuiPlural(int64(restarts)))))
		}
		if rs.Name != "" {
			ss = append(ss, tuiPlain("  "), tuiDim(rs.Name))
		}
		r.add(ss...)
	}
}

// flag is a marker that stands out: coloured, or in brackets without colour.
func (r *tuiScreen) flag(sgr, text string) tuiSpan {
	if r.color {
		return tuiStyled(sgr, text)
	}
	return tuiPlain("[" + text + "]")
}

func tuiStepText(ro Rollout) string {
	if ro.Steps <= 0 {
		return "step -"
	}
	return fmt.Sprintf("step %d/%d", ro.Step, ro.Steps)
}

func tuiWeightText(ro Rollout) string {
	if ro.SetWeight < 0 {
		return "weight -"
	}
	return fmt.Sprintf("weight %d%%", ro.SetWeight)
}

func tuiObservedText(ro Rollout) string {
	if ro.ObservedShare < 0 {
		return "observed -"
	}
	return fmt.Sprintf("observed %.1f%%", ro.ObservedShare)
}

func tuiRolloutPhaseSGR(p string) string {
	switch p {
	case "Healthy":
		return sgrOK
	case "Degraded":
		return sgrFail
	case "Paused", "Progressing":
		return sgrWarn
	}
	return sgrBold
}

// tuiPhaseSGR colours an Argo analysis phase.
func tuiPhaseSGR(p string) string {
	switch p {
	case "Successful":
		return sgrOK
	case "Failed":
		return sgrFail
	case "Inconclusive":
		return sgrWarn
	case "Error":
		return sgrError
	}
	return sgrBold
}

// verdict is an analysis phase as a marker: coloured, or [FAILED].
func (r *tuiScreen) verdict(phase string) tuiSpan {
	p := strings.ToUpper(tuiOrDash(phase))
	if r.color {
		return tuiStyled(tuiPhaseSGR(phase), p)
	}
	return tuiPlain("[" + p + "]")
}

func (r *tuiScreen) analysis() {
	s := r.s
	r.rule("analysis")
	runs := s.Analysis
	if len(runs) == 0 {
		r.add(tuiDim("  no analysis runs"))
		return
	}
	if len(runs) > tuiMaxRuns {
		runs = runs[len(runs)-tuiMaxRuns:]
	}
	for _, run := range runs {
		r.add(tuiPlain("  "), tuiBold(tuiOrDash(run.Name)), tuiPlain(" "), r.verdict(run.Phase),
			tuiDim(fmt.Sprintf("  %d measurement%s", len(run.Measurements), tuiPlural(int64(len(run.Measurements))))))
		ms := run.Measurements
		if len(ms) > tuiMaxMeasures {
			ms = ms[len(ms)-tuiMaxMeasures:]
		}
		for _, m := range ms {
			ss := tuiSpans(tuiPlain("    "), tuiDim(tuiClock(m.At)+" "), tuiPlain(tuiOrDash(m.Metric)+" "), r.verdict(m.Phase))
			if m.Value != "" {
				ss = append(ss, tuiPlain(" "+tuiClip(sanitizeTerminal(m.Value), 24)))
			}
			if m.Explanation != "" {
				ss = append(ss, tuiDim(" — "), tuiPlain(m.Explanation))
			}
			r.add(ss...)
		}
	}
}

func (r *tuiScreen) release() {
	s := r.s
	r.rule("blast radius")
	rel := s.Release
	if rel == nil {
		r.add(tuiDim("  no release yet"))
	} else {
		truth := "bad"
		if rel.Good {
			truth = "good"
		}
		r.add(tuiPlain(fmt.Sprintf("  release #%d  ", rel.ID)), r.version(rel.Stable), tuiPlain(" → "), r.version(rel.Candidate),
			tuiDim(" ("+truth+")"), tuiSep(), tuiPlain(tuiOrDash(rel.Strategy)+" / "+tuiOrDash(rel.Analyzer)), tuiSep(), tuiLabel("elapsed", tuiDuration(rel.ElapsedS)))
		failSGR := ""
		if rel.Failed > 0 {
			failSGR = sgrFail
		}
		onset := "-"
		if rel.SinceOnsetS != nil {
			onset = tuiDuration(*rel.SinceOnsetS) + " ago"
		}
		outcome := string(rel.Outcome)
		if outcome == "" {
			outcome = "pending"
		}
		r.add(tuiPlain("  requests "+tuiCount(rel.Requests)), tuiSep(), tuiStyled(failSGR, "failed "+tuiCount(rel.Failed)+" ("+tuiPct(rel.Failed, rel.Requests)+")"),
			tuiSep(), tuiPlain(fmt.Sprintf("users affected %d", rel.UsersAffected)), tuiSep(), tuiLabel("onset", onset),
			tuiSep(), tuiPlain("outcome "), tuiBold(outcome))
		if len(rel.Faults) > 0 {
			r.add(tuiPlain("  faults "), tuiStyled(sgrWarn, strings.Join(rel.Faults, ", ")))
		}
		if rel.Error != "" {
			r.add(tuiPlain("  "), r.flag(sgrFail, "ERROR"), tuiPlain(" "+rel.Error))
		}
		if sc := rel.Score; sc != nil {
			r.add(tuiPlain("  score "), r.scoreVerdict(sc.Verdict), tuiSep(),
				tuiPlain("failed "+tuiCount(sc.FailedRequests)+"/"+tuiCount(sc.TotalRequests)), tuiSep(),
				tuiPlain(fmt.Sprintf("users affected %d", sc.UsersAffected)), tuiSep(),
				tuiPlain("time to detect "+tuiOptDuration(sc.TimeToDetectS)+", recover "+tuiOptDuration(sc.TimeToRecoverS)))
		}
	}
	if len(s.History) > 0 {
		ss := tuiSpans(tuiDim("  earlier "))
		for i, h := range s.History {
			if i == tuiMaxHistory {
				break
			}
			if i > 0 {
				ss = append(ss, tuiSep())
			}
			ss = append(ss, tuiPlain(fmt.Sprintf("#%d ", h.ID)), r.version(h.Candidate))
			if h.Score != nil {
				ss = append(ss, tuiPlain(" "), r.scoreVerdict(h.Score.Verdict))
			} else if h.Outcome != "" {
				ss = append(ss, tuiPlain(" "+string(h.Outcome)))
			}
		}
		r.add(ss...)
	}
}

// scoreVerdict is a release's verdict: green when the analysis judged
// right, red when it let a bad release through, yellow for a false alarm.
func (r *tuiScreen) scoreVerdict(v results.Verdict) tuiSpan {
	sgr := sgrDim
	switch v {
	case results.VerdictDetected, results.VerdictPromoted:
		sgr = sgrOK
	case results.VerdictMissed:
		sgr = sgrFail
	case results.VerdictFalseAlarm:
		sgr = sgrWarn
	}
	return r.flag(sgr, strings.ToUpper(tuiOrDash(string(v))))
}

func (r *tuiScreen) log() {
	s := r.s
	r.rule("log")
	lines := s.Log
	if len(lines) == 0 {
		r.add(tuiDim("  (empty)"))
		return
	}
	if len(lines) > tuiMaxLog {
		lines = lines[len(lines)-tuiMaxLog:]
	}
	for _, l := range lines {
		r.add(tuiPlain("  "), tuiDim(tuiClock(l.Time)+" "), tuiStyled(tuiLogSGR(l.Kind), tuiPad(string(l.Kind), 8)), tuiPlain(l.Text))
	}
}

func tuiLogSGR(k LogKind) string {
	switch k {
	case LogError:
		return sgrFail
	case LogRefused:
		return sgrWarn
	case LogVerdict:
		return sgrOK
	}
	return sgrDim
}

// sanitizeTerminal makes untrusted text safe to print: it drops ANSI escape
// sequences (CSI, OSC, DCS and the other string sequences, two-byte
// escapes, and their 8-bit C1 forms), every other control character,
// and the bidirectional overrides; tabs and line breaks become a space.
// Invalid UTF-8 becomes U+FFFD.
func sanitizeTerminal(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false // the last rune written is a space made of a control
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == 0x1b:
			i = tuiSkipEscape(s, i+n)
			continue
		case c == 0x9b: // C1 CSI
			i = tuiSkipCSI(s, i+n)
			continue
		case c == 0x90 || c == 0x98 || c == 0x9d || c == 0x9e || c == 0x9f: // C1 DCS, SOS, OSC, PM, APC
			i = tuiSkipString(s, i+n)
			continue
		case c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x85 || c == 0x2028 || c == 0x2029:
			if !space {
				b.WriteByte(' ')
				space = true
			}
			i += n
			continue
		case c < 0x20 || (c >= 0x7f && c <= 0x9f):
		case c >= 0x202a && c <= 0x202e, c >= 0x2066 && c <= 0x2069, c == 0x200e, c == 0x200f, c == 0x061c:
		default:
			b.WriteRune(c)
			space = false
		}
		i += n
	}
	return b.String()
}

// tuiSkipEscape skips the rest of an escape sequence whose ESC ends before i.
func tuiSkipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return tuiSkipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return tuiSkipString(s, i+1)
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f { // intermediates, e.g. ESC ( B
		i++
	}
	if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
		i++ // the final byte
	}
	return i
}

// tuiSkipCSI skips a control sequence's parameters and its final byte.
func tuiSkipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// tuiSkipString skips a control string up to and including its terminator
// (BEL, ESC \ or ST), or to the end of s.
func tuiSkipString(s string, i int) int {
	for i < len(s) {
		c, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == 0x07 || c == 0x9c:
			return i + n
		case c == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		}
		i += n
	}
	return i
}

// tuiTextWidth is the number of columns s takes in a terminal.
func tuiTextWidth(s string) int {
	w := 0
	for _, c := range s {
		w += tuiRuneWidth(c)
	}
	return w
}

// tuiRuneWidth is a rune's columns: 0 for combining marks and zero-width
// characters, 2 for East Asian wide and most emoji, else 1.
func tuiRuneWidth(c rune) int {
	switch {
	case c < 0x20 || (c >= 0x7f && c <= 0x9f):
		return 0
	case c < 0x300:
		return 1
	case unicode.In(c, unicode.Mn, unicode.Me), c >= 0x200b && c <= 0x200f, c == 0xfeff:
		return 0
	case c >= 0x1100 && c <= 0x115f, c >= 0x2e80 && c <= 0xa4cf && c != 0x303f, c >= 0xac00 && c <= 0xd7a3,
		c >= 0xf900 && c <= 0xfaff, c >= 0xfe30 && c <= 0xfe4f, c >= 0xff00 && c <= 0xff60, c >= 0xffe0 && c <= 0xffe6,
		c >= 0x1f300 && c <= 0x1f64f, c >= 0x1f900 && c <= 0x1f9ff, c >= 0x20000 && c <= 0x3fffd:
		return 2
	}
	return 1
}

// tuiClip cuts s to n runes with an ellipsis.
func tuiClip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

func tuiOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tuiPlural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func tuiClock(t time.Time) string {
	if t.IsZero() {
		return "--:--:--"
	}
	return t.Format("15:04:05")
}

// tuiDuration formats seconds: 4.2s, 42s, 3m05s.
func tuiDuration(s float64) string {
	switch {
	case s < 0 || math.IsNaN(s):
		return "-"
	case s < 10:
		return fmt.Sprintf("%.1fs", s)
	case s < 60:
		return fmt.Sprintf("%.0fs", s)
	}
	d := int64(math.Round(s))
	return fmt.Sprintf("%dm%02ds", d/60, d%60)
}

// tuiOptDuration formats a score's time: 12.3s, 3m05s; "-" when nil.
func tuiOptDuration(s *float64) string {
	switch {
	case s == nil:
		return "-"
	case *s >= 0 && *s < 60:
		return fmt.Sprintf("%.1fs", *s)
	}
	return tuiDuration(*s)
}

// tuiCount formats n with thousands separators.
func tuiCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func tuiPct(n, of int64) string {
	if of <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// TerminalWidth is f's width in columns, DefaultTerminalWidth when f is not a
// terminal or does not say.
func TerminalWidth(f *os.File) int {
	if f != nil {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return DefaultTerminalWidth
}

// TerminalHeight is f's height in lines, 0 when unknown.
func TerminalHeight(f *os.File) int {
	if f != nil {
		if _, h, err := term.GetSize(int(f.Fd())); err == nil && h > 0 {
			return h
		}
	}
	return 0
}

// Terminal shows a stream of States on a writer: redrawn in place on a
// terminal (interactive), or as plain log lines, one per change that
// matters, when the output is a file or a pipe.
type Terminal struct {
	mu          sync.Mutex
	w           io.Writer
	interactive bool
	width       func() int
	height      func() int
	started     bool
	closed      bool
	last        string // the last frame drawn
	tr          tuiTracker
}

// NewTerminal returns a Terminal writing to w; width is asked before every
// frame (nil: DefaultTerminalWidth).
func NewTerminal(w io.Writer, interactive bool, width func() int) *Terminal {
	if width == nil {
		width = func() int { return DefaultTerminalWidth }
	}
	return &Terminal{w: w, interactive: interactive, width: width}
}

// SetHeight makes an interactive Terminal cut frames to height()-1 lines
// (height() 0: no limit), so that neither a frame nor Close scrolls the
// screen.
func (t *Terminal) SetHeight(height func() int) {
	t.mu.Lock()
	t.height = height
	t.mu.Unlock()
}

// Show draws s: a new frame, or the log lines of what changed since the
// last State shown.
func (t *Terminal) Show(s State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if !t.interactive {
		if lines := t.tr.update(s); len(lines) > 0 {
			_, _ = io.WriteString(t.w, strings.Join(lines, "\n")+"\n")
		}
		return
	}
	lines := tuiRenderLines(s, t.width(), true)
	if t.height != nil {
		// the last row stays free: Close moves there without scrolling
		if h := t.height() - 1; h > 0 && len(lines) > h {
			lines = lines[:h]
		}
	}
	frame := strings.Join(lines, "\n")
	if frame == t.last {
		return
	}
	t.last = frame
	width := t.width()
	var b strings.Builder
	if !t.started {
		b.WriteString("\x1b[?25l") // hide the cursor
		t.started = true
	}
	b.WriteString("\x1b[H")
	for i, l := range lines {
		b.WriteString(l)
		// clear the rest of the line, unless the line fills it: at the last
		// column a terminal would erase the line's last character
		if tuiVisibleWidth(l) < width {
			b.WriteString("\x1b[K")
		}
		if i < len(lines)-1 {
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\x1b[J")
	_, _ = io.WriteString(t.w, b.String())
}

// Close shows the cursor again, leaving the last screen; the next output
// starts below it. It does nothing for a non-interactive Terminal.
func (t *Terminal) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if !t.interactive || !t.started {
		return nil
	}
	_, err := io.WriteString(t.w, "\r\n\x1b[?25h")
	return err
}

// tuiVisibleWidth is the columns of a rendered line, escape codes aside.
func tuiVisibleWidth(l string) int {
	w := 0
	for i := 0; i < len(l); {
		if l[i] == 0x1b {
			i = tuiSkipEscape(l, i+1)
			continue
		}
		c, n := utf8.DecodeRuneInString(l[i:])
		w += tuiRuneWidth(c)
		i += n
	}
	return w
}

// tuiTracker turns a stream of States into log lines, one per change that
// matters: new log lines, the phase, the API server's reachability, the
// stable version, strategy and analyzer, the rollout's step and weight,
// the pods, measurements and analysis runs, a release starting, deciding
// and ending. It remembers only what the
// current State still holds, so it does not grow over a long session.
type tuiTracker struct {
	started   bool
	connected bool
	phase     Phase
	setup     string // platform, namespace, stable version, strategy, analyzer
	rollout   string
	pods      map[string]string // ReplicaSet → its line
	runs      map[string]string // analysis run → phase printed
	measures  map[string]string // measurement → phase printed
	logs      map[string]bool   // log lines printed
	released  int               // the last release announced
	decided   int               // the last release whose outcome was printed
	errored   int               // the last release whose error was printed
	scored    int               // the last release whose score was printed
	recent    map[string]bool   // lines printed lately, never printed twice
	recentLog []string
}

const tuiMaxRecent = 1024

func (tr *tuiTracker) update(s State) []string {
	var out []string
	at := tuiClock(s.Time)
	emit := func(when, kind, text string) {
		l := when + " " + fmt.Sprintf("%-8s", kind) + " " + sanitizeTerminal(text)
		if tr.recent[l] {
			return
		}
		if tr.recent == nil {
			tr.recent = map[string]bool{}
		}
		tr.recent[l] = true
		tr.recentLog = append(tr.recentLog, l)
		if len(tr.recentLog) > tuiMaxRecent {
			delete(tr.recent, tr.recentLog[0])
			tr.recentLog = tr.recentLog[1:]
		}
		out = append(out, l)
	}

	// the session's own log first: it says what was done
	logs := make(map[string]bool, len(s.Log))
	for _, l := range s.Log {
		k := strconv.FormatInt(l.Time.UnixNano(), 10) + "\x00" + string(l.Kind) + "\x00" + l.Text
		logs[k] = true
		if !tr.logs[k] {
			emit(tuiClock(l.Time), string(l.Kind), l.Text)
		}
	}
	tr.logs = logs

	if !tr.started || s.Connected != tr.connected {
		if !s.Connected {
			n := s.Notice
			if n == "" {
				n = "API server unreachable"
			}
			emit(at, "api", n)
		} else if tr.started {
			emit(at, "api", "API server reachable again")
		}
		tr.connected = s.Connected
	}
	if !tr.started || s.Phase != tr.phase {
		emit(at, "phase", tuiOrDash(string(s.Phase)))
		tr.phase = s.Phase
	}
	if setup := fmt.Sprintf("platform %s, namespace %s, stable %s, next release: strategy %s, analyzer %s",
		tuiOrDash(s.Platform), tuiOrDash(s.Namespace), tuiOrDash(s.Stable), tuiOrDash(s.Strategy), tuiOrDash(s.Analyzer)); setup != tr.setup {
		emit(at, "setup", setup)
		tr.setup = setup
	}
	tr.started = true

	if rel := s.Release; rel != nil && rel.ID > tr.released {
		emit(tuiClock(rel.StartedAt), "release", fmt.Sprintf("#%d started: %s → %s (strategy %s, analyzer %s)",
			rel.ID, tuiOrDash(rel.Stable), tuiOrDash(rel.Candidate), tuiOrDash(rel.Strategy), tuiOrDash(rel.Analyzer)))
		tr.released = rel.ID
	}

	if ro := s.Rollout; ro.Kind != "" {
		l := fmt.Sprintf("%s %s, %s, %s", ro.Kind, tuiOrDash(ro.Phase), tuiStepText(ro), tuiWeightText(ro))
		if ro.Paused {
			l += ", paused"
		}
		if ro.Aborted {
			l += ", aborted"
		}
		if ro.Message != "" {
			l += ": " + ro.Message
		}
		if l != tr.rollout {
			emit(at, "rollout", l)
			tr.rollout = l
		}
	}

	pods := make(map[string]string, len(s.ReplicaSets))
	for _, rs := range s.ReplicaSets {
		waiting := map[string]bool{}
		for _, p := range rs.Pods {
			if p.Waiting != "" && !p.Gone {
				waiting[p.Waiting] = true
			}
		}
		reasons := make([]string, 0, len(waiting))
		for w := range waiting {
			reasons = append(reasons, w)
		}
		sort.Strings(reasons)
		l := fmt.Sprintf("%s %d/%d ready", tuiOrDash(rs.Version), rs.Ready, rs.Replicas)
		if len(reasons) > 0 {
			l += ", " + strings.Join(reasons, ", ")
		}
		key := rs.Name + "\x00" + rs.Version
		pods[key] = l
		if tr.pods[key] != l {
			emit(at, "pods", l)
		}
	}
	tr.pods = pods

	runs := make(map[string]string, len(s.Analysis))
	measures := map[string]string{}
	for _, run := range s.Analysis {
		for _, m := range run.Measurements {
			if m.Phase == "" || m.Phase == "Pending" || m.Phase == "Running" {
				continue
			}
			key := run.Name + "\x00" + m.Metric + "\x00" + strconv.FormatInt(m.At.UnixNano(), 10)
			measures[key] = m.Phase
			if tr.measures[key] == m.Phase {
				continue
			}
			l := fmt.Sprintf("%s %s [%s]", tuiOrDash(run.Name), tuiOrDash(m.Metric), strings.ToUpper(m.Phase))
			if m.Value != "" {
				l += " " + tuiClip(sanitizeTerminal(m.Value), 40)
			}
			if m.Explanation != "" {
				l += " — " + tuiClip(sanitizeTerminal(m.Explanation), 400)
			}
			when := at
			if !m.At.IsZero() {
				when = tuiClock(m.At)
			}
			emit(when, "measure", l)
		}
		runs[run.Name] = run.Phase
		if run.Phase != "" && tr.runs[run.Name] != run.Phase {
			emit(at, "analysis", fmt.Sprintf("%s %s", tuiOrDash(run.Name), run.Phase))
		}
	}
	tr.runs, tr.measures = runs, measures

	if rel := s.Release; rel != nil {
		if rel.Outcome != "" && rel.ID > tr.decided {
			emit(at, "release", fmt.Sprintf("#%d %s: %s after %s, %s of %s requests failed, %d users affected",
				rel.ID, tuiOrDash(rel.Candidate), rel.Outcome, tuiDuration(rel.ElapsedS), tuiCount(rel.Failed), tuiCount(rel.Requests), rel.UsersAffected))
			tr.decided = rel.ID
		}
		if rel.Error != "" && rel.ID > tr.errored {
			emit(at, "error", fmt.Sprintf("#%d %s: %s", rel.ID, tuiOrDash(rel.Candidate), rel.Error))
			tr.errored = rel.ID
		}
		if sc := rel.Score; sc != nil && rel.ID > tr.scored {
			emit(at, "score", fmt.Sprintf("#%d %s: %s, %s of %s requests failed, %d users affected, time to detect %s, time to recover %s",
				rel.ID, tuiOrDash(rel.Candidate), strings.ToUpper(tuiOrDash(string(sc.Verdict))), tuiCount(sc.FailedRequests), tuiCount(sc.TotalRequests),
				sc.UsersAffected, tuiOptDuration(sc.TimeToDetectS), tuiOptDuration(sc.TimeToRecoverS)))
			tr.scored = rel.ID
			tr.decided = max(tr.decided, rel.ID)
		}
	}
	return out
}
