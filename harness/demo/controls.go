package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/harness/watch"
	"github.com/blastradius/blastradius/loadgen"
)

// Act carries out a viewer's request, or says why it cannot act now; a
// refusal is logged where the audience sees it.
func (s *Session) Act(ctx context.Context, c Control, choice string) (string, error) {
	msg, err := s.act(ctx, c, choice)
	switch e := err.(type) {
	case nil:
		s.logf(LogInfo, "%s", msg)
	case *Refusal:
		s.logf(LogRefused, "%s refused: %s", c, e.Reason)
	case *BadRequest:
		s.logf(LogRefused, "%s: %s", c, e.Reason)
	default:
		s.logf(LogError, "%s: %v", c, err)
	}
	return msg, err
}

func (s *Session) act(ctx context.Context, c Control, choice string) (string, error) {
	if !slices.Contains(Controls, c) {
		return "", &BadRequest{Reason: fmt.Sprintf("unknown control %q", c)}
	}
	if ok, reason := s.conn.status(); !ok && c != ControlStrategy && c != ControlAnalyzer {
		return "", refuse("%s", reason)
	}
	// Releases and switches outlive the request that asked for them.
	bg := s.sessionContext(ctx)
	switch c {
	case ControlReleaseGood:
		v, err := s.nextVersion("")
		if err != nil {
			return "", err
		}
		return "releasing " + v.Tag, s.startRelease(bg, v)
	case ControlReleaseBad:
		if choice == "" {
			choice = "bad"
		}
		if !slices.ContainsFunc(variantChoices(), func(ch Choice) bool { return ch.Name == choice }) {
			return "", &BadRequest{Reason: fmt.Sprintf("unknown bad variant %q", choice)}
		}
		v, err := s.nextVersion(choice)
		if err != nil {
			return "", err
		}
		return "releasing " + v.Tag, s.startRelease(bg, v)
	case ControlFault:
		return s.injectFault(ctx, choice)
	case ControlPromote:
		return s.promote(ctx)
	case ControlAbort:
		return s.abort(ctx)
	case ControlStrategy:
		return s.switchStrategy(bg, choice)
	case ControlAnalyzer:
		return s.switchAnalyzer(choice)
	}
	return "", &BadRequest{Reason: fmt.Sprintf("unknown control %q", c)}
}

// sessionContext is the context background work runs under: the session's.
func (s *Session) sessionContext(ctx context.Context) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil {
		return s.ctx
	}
	return context.WithoutCancel(ctx)
}

// nextVersion is the next colour after the stable one, healthy or with the
// variant's defect.
func (s *Session) nextVersion(variant string) (catalog.Version, error) {
	s.mu.Lock()
	stable := s.stable
	phase := s.phase
	s.mu.Unlock()
	if phase != PhaseIdle {
		return catalog.Version{}, refuse("%s", s.busyReasonLocked())
	}
	i := slices.Index(catalog.Colors, stable.Color)
	color := catalog.Colors[(i+1)%len(catalog.Colors)]
	tag := color
	if variant != "" {
		tag = variant + "-" + color
	}
	v, ok := catalog.Lookup(tag)
	if !ok {
		return catalog.Version{}, &BadRequest{Reason: fmt.Sprintf("no catalog version %q", tag)}
	}
	return v, nil
}

// busyReason says why no release can start now; the caller holds s.mu.
func (s *Session) busyReason() string {
	switch s.phase {
	case PhaseStarting:
		return "the demo is still starting"
	case PhaseReleasing, PhaseSettling:
		if s.release != nil {
			return fmt.Sprintf("release %d (%s) is in progress", s.release.ID, s.release.Candidate)
		}
		return "a release is in progress"
	case PhaseSwitching:
		return "the strategy is being switched"
	case PhaseStopping:
		return "the demo is stopping"
	}
	return ""
}

func (s *Session) busyReasonLocked() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busyReason()
}

// The patches `kubectl argo rollouts promote` and `abort` send (merge
// patches; status ones on the Rollout's status subresource).
const (
	unpausePatch                                = `{"spec":{"paused":false}}`
	clearPauseConditionsPatch                   = `{"status":{"pauseConditions":null}}`
	clearPauseConditionsPatchWithStep           = `{"status":{"pauseConditions":null, "currentStepIndex":%d}}`
	clearPauseConditionsAndControllerPausePatch = `{"status":{"pauseConditions":null, "controllerPause":false, "currentStepIndex":%d}}`
	abortPatch                                  = `{"status":{"abort":true}}`
)

// promote promotes the release as `kubectl argo rollouts promote` does:
// a rollout paused by the controller (an inconclusive analysis) moves on
// to the next step; one paused by a step resumes; one in the middle of a
// canary step (running analysis) moves on to the next step.
func (s *Session) promote(ctx context.Context) (string, error) {
	x, err := s.rolloutRelease("promote")
	if err != nil {
		return "", err
	}
	u := s.view.rollout()
	if u == nil {
		return "", refuse("no Rollout to promote yet")
	}
	st := watch.ReadRollout(u)
	ro := s.dyn.Resource(rolloutGVR).Namespace(s.cfg.Namespace)
	next := min(st.Step+1, st.Steps)
	controllerPause, _, _ := unstructured.NestedBool(u.Object, "status", "controllerPause")
	var status string
	switch {
	case hasPauseConditions(u) && controllerPause && x.strat.Traits().Canary:
		status = fmt.Sprintf(clearPauseConditionsAndControllerPausePatch, next)
	case hasPauseConditions(u):
		status = clearPauseConditionsPatch
	case x.strat.Traits().Canary && st.Steps > 0:
		status = fmt.Sprintf(clearPauseConditionsPatchWithStep, next)
	}
	if status != "" {
		if _, err := ro.Patch(ctx, strategy.DefaultApp, types.MergePatchType, []byte(status), metav1.PatchOptions{}, "status"); err != nil {
			return "", err
		}
	}
	if paused, _, _ := unstructured.NestedBool(u.Object, "spec", "paused"); paused {
		if _, err := ro.Patch(ctx, strategy.DefaultApp, types.MergePatchType, []byte(unpausePatch), metav1.PatchOptions{}); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("promoted %s (from step %d/%d)", x.cand.Tag, st.Step, st.Steps), nil
}

func hasPauseConditions(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "pauseConditions")
	return len(conds) > 0
}

// abort aborts the release as `kubectl argo rollouts abort` does.
func (s *Session) abort(ctx context.Context) (string, error) {
	x, err := s.rolloutRelease("abort")
	if err != nil {
		return "", err
	}
	if st, ok := s.view.rolloutState(); ok && st.Abort {
		return "", refuse("release %d is already aborted", x.id)
	}
	ro := s.dyn.Resource(rolloutGVR).Namespace(s.cfg.Namespace)
	if _, err := ro.Patch(ctx, strategy.DefaultApp, types.MergePatchType, []byte(abortPatch), metav1.PatchOptions{}, "status"); err != nil {
		return "", err
	}
	return fmt.Sprintf("aborted %s", x.cand.Tag), nil
}

// rolloutRelease is the release in progress when Argo can still be asked
// to act on it.
func (s *Session) rolloutRelease(what string) (*releaseRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.rel == nil:
		return nil, refuse("nothing to %s: no release in progress", what)
	case s.phase != PhaseReleasing:
		return nil, refuse("nothing to %s: release %d is decided (%s)", what, s.rel.id, s.release.Outcome)
	case !s.rel.strat.Traits().Rollout:
		return nil, refuse("a Deployment cannot %s: it rolls on by itself (strategy %s)", what, s.rel.strat.Name())
	}
	return s.rel, nil
}

// switchStrategy redeploys the stable version under another strategy, in
// the background; releases wait until it serves.
func (s *Session) switchStrategy(ctx context.Context, name string) (string, error) {
	if !slices.ContainsFunc(s.strategyChoices(), func(c Choice) bool { return c.Name == name }) {
		return "", &BadRequest{Reason: fmt.Sprintf("strategy %q is not on offer here", name)}
	}
	s.mu.Lock()
	if s.phase != PhaseIdle {
		defer s.mu.Unlock()
		return "", refuse("%s", s.busyReason())
	}
	if s.strategy == name {
		s.mu.Unlock()
		return "", refuse("the strategy is already %s", name)
	}
	old := s.strategy
	s.strategy = name
	s.phase = PhaseSwitching
	stable := s.stable
	s.busy.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.busy.Done()
		err := s.deploy(ctx, name, stable)
		if err == nil {
			// A routed strategy's users come in through the router.
			var idle *loadgen.Generator
			if idle, err = s.startLoad(ctx, name, nil); err == nil {
				if old := s.swapLoad(idle); old != nil {
					go old.Wait() //nolint:errcheck // idle load: nothing of it is scored
				}
			}
		}
		s.mu.Lock()
		if err != nil && ctx.Err() == nil {
			s.strategy = old
		}
		if s.phase == PhaseSwitching {
			s.phase = PhaseIdle
		}
		s.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			s.logf(LogError, "switch to %s: %v", name, err)
			return
		}
		s.logf(LogInfo, "%s serves under %s now", stable.Tag, name)
	}()
	return fmt.Sprintf("switching from %s to %s", old, name), nil
}

// switchAnalyzer sets the analyzer of the next release.
func (s *Session) switchAnalyzer(name string) (string, error) {
	if !slices.ContainsFunc(s.analyzerChoices(), func(c Choice) bool { return c.Name == name }) {
		return "", &BadRequest{Reason: fmt.Sprintf("analyzer %q is not on offer here", name)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != PhaseIdle {
		return "", refuse("%s", s.busyReason())
	}
	s.analyzer = name
	return "the next release is analysed by " + name, nil
}

// availability says, for a snapshot, which controls can act and why not.
func (s *Session) availability(st *State) map[Control]Availability {
	out := map[Control]Availability{}
	set := func(c Control, ok bool, reason string) {
		if ok {
			reason = ""
		}
		out[c] = Availability{Enabled: ok, Reason: reason}
	}
	idle := st.Phase == PhaseIdle
	busy := s.busyReasonLocked()
	if !st.Connected {
		busy = st.Notice
	}
	set(ControlReleaseGood, idle && st.Connected, busy)
	set(ControlReleaseBad, idle && st.Connected, busy)
	set(ControlStrategy, idle, busy)
	set(ControlAnalyzer, idle, busy)

	releasing := st.Phase == PhaseReleasing && st.Release != nil
	reason := "no release in progress"
	switch {
	case !st.Connected:
		reason = st.Notice
	case releasing && st.Rollout.Kind != "Rollout":
		reason = "a Deployment rolls on by itself: nothing to promote or abort"
	case releasing && st.Rollout.Aborted:
		reason = "already aborted"
	}
	canAct := releasing && st.Connected && st.Rollout.Kind == "Rollout" && !st.Rollout.Aborted
	set(ControlPromote, canAct, reason)
	set(ControlAbort, canAct, reason)

	candPods := 0
	if releasing {
		for _, rs := range st.ReplicaSets {
			if rs.Version == st.Release.Candidate {
				for _, p := range rs.Pods {
					if p.Phase == "Running" && !p.Gone {
						candPods++
					}
				}
			}
		}
	}
	freason := "no release in progress: a fault goes into a candidate"
	switch {
	case !st.Connected:
		freason = st.Notice
	case releasing && candPods == 0:
		freason = "the candidate has no running pod yet"
	}
	set(ControlFault, releasing && st.Connected && candPods > 0, freason)
	return out
}

// The choices on offer.

// variants are the bad releases a speaker can ship, from the catalog.
var variants = []Choice{
	{Name: "bad", Label: "error rate"},
	{Name: "slow", Label: "latency"},
	{Name: "crash", Label: "crash loop"},
	{Name: "late", Label: "late onset"},
}

func variantChoices() []Choice {
	out := make([]Choice, 0, len(variants))
	for _, c := range variants {
		if v, ok := catalog.Lookup(c.Name + "-" + catalog.Colors[0]); ok {
			c.Description = v.Description
		}
		out = append(out, c)
	}
	return out
}

// demoFault is a runtime fault a speaker can inject into a candidate.
type demoFault struct {
	choice    Choice
	faults    demoapp.Faults
	rootCause results.RootCause
}

var demoFaults = []demoFault{
	{Choice{Name: "errors", Label: "30% errors", Description: "the candidate's pods answer 30% of requests with HTTP 500"},
		demoapp.Faults{ErrorRate: 0.3}, results.RootCauseErrorRate},
	{Choice{Name: "latency", Label: "+500ms latency", Description: "the candidate's pods answer every request 500ms later"},
		demoapp.Faults{Latency: 500 * time.Millisecond}, results.RootCauseLatency},
}

func faultChoices() []Choice {
	out := make([]Choice, len(demoFaults))
	for i, f := range demoFaults {
		out[i] = f.choice
	}
	return out
}

func faultByName(name string) (demoFault, bool) {
	for _, f := range demoFaults {
		if f.choice.Name == name {
			return f, true
		}
	}
	return demoFault{}, false
}

// strategyChoices are the strategies on offer: those the platform serves.
func (s *Session) strategyChoices() []Choice {
	var out []Choice
	for _, name := range s.cfg.Strategies {
		if st, ok := strategy.Lookup(name); ok {
			out = append(out, Choice{Name: name, Label: name, Description: st.Description()})
		}
	}
	return out
}

// analyzerChoices are the analyzers on offer.
func (s *Session) analyzerChoices() []Choice {
	var out []Choice
	for _, name := range s.cfg.Analyzers {
		if a, ok := analysis.Lookup(name); ok {
			out = append(out, Choice{Name: name, Label: name, Description: a.Description})
		}
	}
	return out
}
