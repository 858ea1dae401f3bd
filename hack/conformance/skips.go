package main

import (
	"regexp"
	"sort"
	"strings"
)

// skip is one entry of the skip list: a whole suite ("TestIstioSuite") or
// one test ("TestAnalysisSuite/TestCanaryBackgroundAnalysis") that needs
// something the local platform does not offer by design. Nothing else
// belongs here: a test that fails for a platform gap is a finding and fails
// the run.
type skip struct {
	Test   string
	Reason string
}

// skips is the skip list, the one place that says what is not run and why.
var skips = []skip{
	// Traffic routers and meshes. Argo's own CI installs only the CRDs of
	// test/e2e/crds for these and checks the objects Argo writes; the local
	// platform installs no CRDs but Argo's and Traefik's.
	{"TestIstioSuite", "Istio traffic routing: needs Istio's VirtualService and DestinationRule CRDs; the local platform has no mesh (its L7 router is Traefik)"},
	{"TestHeaderRoutingSuite", "header routes through Istio: needs Istio's CRDs; no mesh on the local platform"},
	{"TestMirrorRouteSuite", "mirror routes through Istio: needs Istio's CRDs; no mesh on the local platform"},
	{"TestSMISuite", "SMI traffic splitting: needs the SMI TrafficSplit CRD and a mesh that honours it; none on the local platform"},
	{"TestSMIIngressSuite", "SMI with an NGINX ingress: needs the SMI TrafficSplit CRD and an ingress controller; none on the local platform"},
	{"TestAppMeshSuite", "AWS App Mesh: needs App Mesh's CRDs and controller (AWS)"},
	{"TestAPISIXSuite", "Apache APISIX traffic routing: needs APISIX's CRDs and gateway"},
	{"TestAWSSuite", "AWS Load Balancer Controller and real ALBs (E2E_ALB_INGESS_ANNOTATIONS): needs AWS"},
	// Single tests.
	{"TestAnalysisSuite/TestCanaryInconclusiveBackgroundAnalysis", "web metric on https://dns.google: needs the internet"},
	{"TestAnalysisSuite/TestAnalysisWithSecret", "web metric on https://gist.githubusercontent.com (the URL in a Secret): needs the internet"},
	{"TestAnalysisSuite/TestAnalysisWithArgs", "web metric on https://gist.githubusercontent.com (the URL in a Secret): needs the internet"},
	{"TestAnalysisSuite/TestCanaryBackgroundAnalysis", "web metric on https://kubernetes.default.svc from the controller: needs cluster DNS and ClusterIP routing, which the local platform does not have (Services are reached on their node port)"},
	{"TestFunctionalSuite/TestControllerMetrics", "reads the controller's metrics on localhost:8090, Argo's default port; the local platform gives the controller a free port so that clusters run side by side"},
}

// isolated are tests that, when they fail, leave behind what breaks later
// tests of their suite; they run last, in a test binary of their own. Their
// results count as any other's.
var isolated = []skip{
	// A Rollout that typed clients cannot decode: when the controller
	// does not make it Healthy, the suite's AfterTest fails listing
	// Rollouts before it deletes anything, the Rollout stays, and the
	// later tests' Rollout informers fail to list for good.
	{"TestFunctionalSuite/TestMalformedRolloutEphemeralCtr", "leaves an undecodable Rollout behind when it fails"},
}

// splitIsolated splits tests into those to run first and the isolated ones,
// which run after them; empty groups are left out.
func splitIsolated(tests []test, list []skip) [][]test {
	var first, last []test
	for _, t := range tests {
		if _, ok := skipFor(list, t); ok {
			last = append(last, t)
		} else {
			first = append(first, t)
		}
	}
	var out [][]test
	for _, g := range [][]test{first, last} {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// skipFor returns the skip list entry for t: its own, else its suite's.
func skipFor(list []skip, t test) (skip, bool) {
	var suite *skip
	for i, s := range list {
		switch s.Test {
		case t.String():
			return s, true
		case t.Suite:
			suite = &list[i]
		}
	}
	if suite != nil {
		return *suite, true
	}
	return skip{}, false
}

// selection is what a run runs and what it leaves out.
type selection struct {
	Run     []test
	Skipped map[test]skip
}

// selectTests picks the tests whose name (Suite/Method) matches the
// pattern (all when empty), and splits them into those to run and those the
// skip list leaves out.
func selectTests(all []test, pattern string, list []skip) (selection, error) {
	var re *regexp.Regexp
	if pattern != "" {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return selection{}, err
		}
	}
	sel := selection{Skipped: map[test]skip{}}
	for _, t := range all {
		if re != nil && !re.MatchString(t.String()) {
			continue
		}
		if s, ok := skipFor(list, t); ok {
			sel.Skipped[t] = s
			continue
		}
		sel.Run = append(sel.Run, t)
	}
	return sel, nil
}

// runPattern is a -test.run pattern for exactly these tests: go test splits
// a pattern at top-level | into alternatives and each at / into one
// expression per level, so ^Suite$/^(A|B)$ runs those methods of that suite.
func runPattern(tests []test) string {
	var suites []string
	methods := map[string][]string{}
	for _, t := range tests {
		if _, ok := methods[t.Suite]; !ok {
			suites = append(suites, t.Suite)
		}
		if t.Method != "" {
			methods[t.Suite] = append(methods[t.Suite], regexp.QuoteMeta(t.Method))
		} else {
			methods[t.Suite] = append(methods[t.Suite], "")
		}
	}
	alts := make([]string, 0, len(suites))
	for _, s := range suites {
		alt := "^" + regexp.QuoteMeta(s) + "$"
		if ms := methods[s]; len(ms) > 0 && ms[0] != "" {
			alt += "/^(" + strings.Join(ms, "|") + ")$"
		}
		alts = append(alts, alt)
	}
	return strings.Join(alts, "|")
}

// shard splits tests into at most n parts, each suite whole in one part
// (a suite's setup and teardown act on all of its tests' objects), the
// biggest suites first onto the part with the fewest tests so far.
func shard(tests []test, n int) [][]test {
	var suites []string
	bySuite := map[string][]test{}
	for _, t := range tests {
		if _, ok := bySuite[t.Suite]; !ok {
			suites = append(suites, t.Suite)
		}
		bySuite[t.Suite] = append(bySuite[t.Suite], t)
	}
	n = max(1, min(n, len(suites)))
	sort.SliceStable(suites, func(i, j int) bool { return len(bySuite[suites[i]]) > len(bySuite[suites[j]]) })
	parts := make([][]test, n)
	for _, s := range suites {
		least := 0
		for i := range parts {
			if len(parts[i]) < len(parts[least]) {
				least = i
			}
		}
		parts[least] = append(parts[least], bySuite[s]...)
	}
	return parts
}
