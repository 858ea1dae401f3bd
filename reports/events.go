package reports

// What the reports read out of a run's events: typed fields only. The one
// parse of text here is of the analyzer's JSON answer, which Argo stored
// as the measurement's value: external, untrusted, and read with
// encoding/json.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
)

// describeEvent is an event as text for people: a line of the event log, a
// marker's title. It is display only and nothing reads it back. Untrusted
// parts (Argo's messages, image names, descriptions) are clipped here and
// escaped by the format the text goes into.
func describeEvent(e results.Event) string {
	text := payloadText(e)
	detail := clip(e.Detail, 300)
	switch {
	case text == "":
		text = detail
	case detail != "":
		text += "; " + detail
	}
	if text == "" {
		text = kindText[e.Kind]
	}
	return text
}

// kindText describes the events that carry no payload.
var kindText = map[results.EventKind]string{
	results.EventCandidate:     "candidate applied",
	results.EventLoadStarted:   "load started",
	results.EventLoadStopped:   "load stopped",
	results.EventAborted:       "rollout aborted",
	results.EventDegraded:      "rollout degraded",
	results.EventPromoted:      "rollout promoted",
	results.EventTimeout:       "no decision within the timeout",
	results.EventPaused:        "rollout paused on an inconclusive analysis",
	results.EventFaultInjected: "fault injected",
	results.EventFaultCleared:  "fault cleared",
}

// payloadText describes the event's typed payload; "" when it has none.
func payloadText(e results.Event) string {
	switch {
	case e.Rollout != nil:
		return rolloutText(e.Rollout)
	case e.AnalysisRun != nil:
		return "phase " + clip(e.AnalysisRun.Phase, 40)
	case e.Measurement != nil:
		return measurementEventText(e.Measurement)
	case e.ReplicaSet != nil:
		s := e.ReplicaSet
		return fmt.Sprintf("%s replicas %d ready %d", clip(s.Image, 200), s.Replicas, s.ReadyReplicas)
	case e.Pod != nil:
		return podText(e.Pod)
	case e.Fault != nil:
		return faultChangeText(e.Kind, e.Fault)
	}
	return ""
}

// rolloutText is "phase Paused step 3/6 weight 20 ready 2/3" and Argo's
// message; "aborted" when the rollout is.
func rolloutText(s *results.RolloutStatus) string {
	text := fmt.Sprintf("phase %s step %d/%d weight %d", clip(s.Phase, 40), s.Step, s.Steps, s.Weight)
	if s.Replicas > 0 {
		text += fmt.Sprintf(" ready %d/%d", s.ReadyReplicas, s.Replicas)
	}
	if s.Abort {
		text += " aborted"
	}
	if s.Message != "" {
		text += ": " + clip(s.Message, 300)
	}
	return text
}

// measurementEventText is Argo's phase and message, and the analyzer's
// answer read.
func measurementEventText(m *results.Measurement) string {
	text := string(m.Phase)
	if m.Message != "" {
		text += " " + clip(m.Message, 300)
	}
	if m.Value != "" {
		text += "  [" + measurementText(m.Value) + "]"
	}
	return text
}

// podText is "<image> Running ready true restarts 0" and what the pod
// waits for, if anything.
func podText(p *results.PodStatus) string {
	text := fmt.Sprintf("%s %s ready %t restarts %d", clip(p.Image, 200), clip(p.Phase, 40), p.Ready, p.Restarts)
	if p.Waiting != "" {
		text += " waiting " + clip(p.Waiting, 100)
	}
	if p.Terminating {
		text += " terminating"
	}
	return text
}

// faultChangeText is "injected: <description>" or "cleared: ...", and the
// error if the change failed.
func faultChangeText(kind results.EventKind, f *results.FaultChange) string {
	verb := "injected"
	if kind == results.EventFaultCleared {
		verb = "cleared"
	}
	text := verb + ": " + clip(f.Description, 300)
	if f.Error != "" {
		text += " (error: " + clip(f.Error, 300) + ")"
	}
	return text
}

type weightStep struct{ t, w float64 }

// weightSteps reads the configured weight of the candidate over time: for
// blue-green the switch of the active Service at the promotion, else the
// canary weight of the rollout's statuses when it has steps. The label
// names the panel.
func weightSteps(r *results.Run, rel func(time.Time) float64) ([]weightStep, string) {
	if traits, _ := strategy.TraitsOf(r.Strategy); traits.BlueGreen {
		return blueGreenSwitch(r, rel), "blue-green: active Service on the candidate, and its share"
	}
	// A canary is known by its steps rather than by the catalog, so that a
	// strategy of an older file still gets its weights.
	if canary, steps := canaryWeights(r, rel); steps {
		return append([]weightStep{{0, 0}}, canary...), "canary weight and candidate share"
	}
	return nil, "candidate share of the traffic"
}

// canaryWeights are the weights of the rollout's statuses (0 once aborted,
// 100 once promoted); steps reports whether the rollout had canary steps.
func canaryWeights(r *results.Run, rel func(time.Time) float64) (out []weightStep, steps bool) {
	for _, e := range r.Events {
		t := rel(e.Time)
		switch {
		case t < 0:
		case e.Kind == results.EventRollout && e.Rollout != nil:
			steps = steps || e.Rollout.Steps > 0
			w := float64(e.Rollout.Weight)
			if e.Rollout.Abort {
				w = 0
			}
			out = append(out, weightStep{t, w})
		case e.Kind.Stops():
			out = append(out, weightStep{t, 0})
		case e.Kind == results.EventPromoted:
			out = append(out, weightStep{t, 100})
		}
	}
	return out, steps
}

// blueGreenSwitch is 0 until the promotion switched the active Service to
// the candidate, then 100.
func blueGreenSwitch(r *results.Run, rel func(time.Time) float64) []weightStep {
	out := []weightStep{{0, 0}}
	for _, e := range r.Events {
		if t := rel(e.Time); e.Kind == results.EventPromoted && t >= 0 {
			return append(out, weightStep{t, 100})
		}
	}
	return out
}

type faultSpan struct {
	from, to float64
	title    string
}

// faultSpans are the faults as time spans; a fault without a clearing is a
// point. From the fault records, or failing those, the fault events.
func faultSpans(r *results.Run, rel func(time.Time) float64) []faultSpan {
	if len(r.Faults) == 0 {
		return faultEventSpans(r, rel)
	}
	var out []faultSpan
	for _, f := range r.Faults {
		if f.InjectedAt == nil {
			continue
		}
		s := faultSpan{from: rel(*f.InjectedAt)}
		s.to = s.from
		title := faultTitle(f.Kind, f.Description, s.from)
		if f.ClearedAt != nil {
			s.to = rel(*f.ClearedAt)
			title += fmt.Sprintf(", cleared at %.1fs", s.to)
		}
		if len(f.Touched) > 0 {
			title += "; touched " + strings.Join(f.Touched, ", ")
		}
		if f.Error != "" {
			title += "; error: " + f.Error
		}
		s.title = clip(title, 600)
		out = append(out, s)
	}
	return out
}

// faultEventSpans pairs fault-injected and fault-cleared events by the
// fault they change.
func faultEventSpans(r *results.Run, rel func(time.Time) float64) []faultSpan {
	var out []faultSpan
	open := map[faultKey]int{}
	for _, e := range r.Events {
		if e.Fault == nil {
			continue
		}
		t, k := rel(e.Time), keyOf(e.Fault)
		switch e.Kind {
		case results.EventFaultInjected:
			title := faultTitle(e.Fault.Kind, e.Fault.Description, t)
			if e.Fault.Error != "" {
				title += "; error: " + e.Fault.Error
			}
			open[k] = len(out)
			out = append(out, faultSpan{from: t, to: t, title: clip(title, 600)})
		case results.EventFaultCleared:
			if i, ok := open[k]; ok {
				out[i].to = t
				out[i].title += clip(fmt.Sprintf(", cleared at %.1fs", t), 100)
				delete(open, k)
			}
		}
	}
	return out
}

// faultKey names the fault an event changes: its index in Run.Faults, or
// when it has none (a converted version 1 event that matched no record),
// its description.
type faultKey struct {
	index       int
	description string
}

func keyOf(f *results.FaultChange) faultKey {
	if f.Index >= 0 {
		return faultKey{index: f.Index}
	}
	return faultKey{index: -1, description: f.Description}
}

// faultTitle is the start of a fault's title.
func faultTitle(kind, description string, injected float64) string {
	if kind != "" {
		kind = " " + kind
	}
	return fmt.Sprintf("fault%s: %s, injected at %.1fs", kind, description, injected)
}

// measurementText summarises the JSON an analyzer returned to Argo.
func measurementText(value string) string {
	var m struct {
		Verdict     string   `json:"verdict"`
		Value       *float64 `json:"value"`
		Explanation string   `json:"explanation"`
	}
	if json.Unmarshal([]byte(value), &m) != nil || (m.Verdict == "" && m.Explanation == "" && m.Value == nil) {
		return clip(value, 400)
	}
	s := m.Verdict
	if m.Value != nil {
		s += fmt.Sprintf(", value %g", *m.Value)
	}
	if m.Explanation != "" {
		s += ": " + m.Explanation
	}
	return clip(s, 400)
}

// measurementValue reads the value out of an analyzer's JSON.
func measurementValue(value string) (float64, bool) {
	var m struct {
		Value *float64 `json:"value"`
	}
	if json.Unmarshal([]byte(value), &m) != nil || m.Value == nil {
		return 0, false
	}
	return *m.Value, true
}
