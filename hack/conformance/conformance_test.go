package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An e2e package in miniature: two testify suites (one built with new, one
// with &S{}), a helper method that testify does not run, and a plain test.
const e2eSource = `//go:build e2e

package e2e

import (
	"testing"

	"github.com/stretchr/testify/suite"
)

type CanarySuite struct{ suite.Suite }

func TestCanarySuite(t *testing.T) { suite.Run(t, new(CanarySuite)) }

func (s *CanarySuite) TestA()  {}
func (s *CanarySuite) TestB()  {}
func (s *CanarySuite) helper() {}

type IstioSuite struct{ suite.Suite }

func TestIstioSuite(t *testing.T) {
	suite.Run(t, &IstioSuite{})
}

func (s *IstioSuite) TestRoute() {}

func TestPlain(t *testing.T) {}
`

func writeE2E(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "e2e_test.go"), []byte(e2eSource), 0o644))
	return dir
}

func names(ts []test) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

func TestInventoryReadsSuitesAndTheirMethods(t *testing.T) {
	got, err := inventory(writeE2E(t))
	require.NoError(t, err)
	assert.Equal(t, []string{"TestCanarySuite/TestA", "TestCanarySuite/TestB", "TestIstioSuite/TestRoute", "TestPlain"}, names(got))

	_, err = inventory(t.TempDir())
	assert.ErrorContains(t, err, "no test files in")
}

func TestSelectTestsAppliesTheSkipList(t *testing.T) {
	all, err := inventory(writeE2E(t))
	require.NoError(t, err)
	list := []skip{{"TestIstioSuite", "no mesh"}, {"TestCanarySuite/TestB", "needs the internet"}}

	sel, err := selectTests(all, "", list)
	require.NoError(t, err)
	assert.Equal(t, []string{"TestCanarySuite/TestA", "TestPlain"}, names(sel.Run))
	assert.Equal(t, map[test]skip{
		{Suite: "TestIstioSuite", Method: "TestRoute"}: list[0],
		{Suite: "TestCanarySuite", Method: "TestB"}:    list[1],
	}, sel.Skipped)

	sel, err = selectTests(all, "Canary", list)
	require.NoError(t, err)
	assert.Equal(t, []string{"TestCanarySuite/TestA"}, names(sel.Run))
	assert.Len(t, sel.Skipped, 1, "only the skipped tests the pattern selects are reported")

	_, err = selectTests(all, "(", list)
	assert.Error(t, err)
}

func TestSkipForPrefersTheTestsOwnEntry(t *testing.T) {
	list := []skip{{"TestS", "suite"}, {"TestS/TestX", "test"}}
	s, ok := skipFor(list, test{"TestS", "TestX"})
	assert.True(t, ok)
	assert.Equal(t, "test", s.Reason)
	s, ok = skipFor(list, test{"TestS", "TestY"})
	assert.True(t, ok)
	assert.Equal(t, "suite", s.Reason)
	_, ok = skipFor(list, test{"TestSuite", "TestX"})
	assert.False(t, ok, "a suite's name is matched whole, not as a prefix")
}

// The -test.run pattern is checked against go test itself: a miniature
// suite of subtests, run with the pattern, runs exactly the selection.
func TestRunPatternRunsExactlyTheSelection(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a test binary")
	}
	dir := t.TempDir()
	src := `package sel

import "testing"

func sub(t *testing.T, names ...string) {
	for _, n := range names {
		t.Run(n, func(t *testing.T) {})
	}
}

func TestCanarySuite(t *testing.T) { sub(t, "TestA", "TestAB", "TestB") }
func TestCanarySuiteX(t *testing.T) { sub(t, "TestA") }
func TestIstioSuite(t *testing.T)   { sub(t, "TestA") }
func TestPlain(t *testing.T)        {}
func TestPlainer(t *testing.T)      {}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module sel\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sel_test.go"), []byte(src), 0o644))
	selected := []test{{"TestCanarySuite", "TestA"}, {"TestCanarySuite", "TestB"}, {"TestPlain", ""}}
	cmd := exec.Command("go", "test", "-count=1", "-v", "-run", runPattern(selected), ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	ran := regexp.MustCompile(`(?m)^\s*--- PASS: (\S+)`).FindAllStringSubmatch(string(out), -1)
	var got []string
	for _, m := range ran {
		got = append(got, m[1])
	}
	sort.Strings(got)
	assert.Equal(t, []string{"TestCanarySuite", "TestCanarySuite/TestA", "TestCanarySuite/TestB", "TestPlain"}, got)
}

func TestCollectorTurnsEventsIntoResults(t *testing.T) {
	c := newCollector()
	lines := []string{
		`{"Action":"start","Package":"e2e"}`,
		`{"Action":"run","Test":"TestS"}`,
		`{"Action":"run","Test":"TestS/TestOK"}`,
		`{"Action":"output","Test":"TestS/TestOK","Output":"time=\"2026\" level=info msg=\"fine\"\n"}`,
		`{"Action":"pass","Test":"TestS/TestOK","Elapsed":12.5}`,
		`{"Action":"run","Test":"TestS/TestBad"}`,
		`{"Action":"output","Test":"TestS/TestBad","Output":"time=\"2026\" level=error msg=\"kubectl apply of Rollout \\\"x\\\" failed\"\n"}`,
		`{"Action":"output","Test":"TestS/TestBad","Output":"    when.go:123: Timed out waiting for condition: Healthy\n"}`,
		`{"Action":"output","Test":"TestS/TestBad","Output":"        \tError Trace:\tthen.go:50\n"}`,
		`{"Action":"output","Test":"TestS/TestBad","Output":"        \tError:      \tShould be true\n"}`,
		`{"Action":"fail","Test":"TestS/TestBad","Elapsed":90}`,
		`{"Action":"output","Test":"TestS/TestSkip","Output":"    step_test.go:35: plugin not configured\n"}`,
		`{"Action":"skip","Test":"TestS/TestSkip"}`,
		`{"Action":"fail","Test":"TestS","Elapsed":103}`,
	}
	var ended []result
	for _, l := range lines {
		r, ok, err := c.add([]byte(l))
		require.NoError(t, err)
		if ok {
			ended = append(ended, r)
		}
	}
	require.Len(t, ended, 4)
	assert.Equal(t, result{Test: "TestS/TestOK", Status: statusPassed, Seconds: 12.5}, ended[0])
	assert.Equal(t, statusFailed, ended[1].Status)
	assert.Equal(t, `kubectl apply of Rollout "x" failed; Timed out waiting for condition: Healthy; Should be true`, ended[1].Reason)
	assert.Equal(t, "skipped by the test: plugin not configured", ended[2].Reason)
	assert.Equal(t, "failed without a message (see test2json.jsonl)", ended[3].Reason)

	_, _, err := c.add([]byte("{not json"))
	assert.Error(t, err)
}

func TestTallyAccountsForEveryTest(t *testing.T) {
	c := newCollector()
	for _, l := range []string{
		`{"Action":"pass","Test":"TestA/TestOK","Elapsed":1}`,
		`{"Action":"output","Test":"TestB","Output":"    e2e_suite.go:140: no kubeconfig\n"}`,
		`{"Action":"fail","Test":"TestB","Elapsed":0.1}`,
		`{"Action":"skip","Test":"TestC","Elapsed":0}`,
		`{"Action":"pass","Test":"TestE/TestOK","Elapsed":1}`,
		`{"Action":"output","Test":"TestE","Output":"    e2e_suite.go:270: could not delete jobs\n"}`,
		`{"Action":"fail","Test":"TestE","Elapsed":3}`,
	} {
		_, _, err := c.add([]byte(l))
		require.NoError(t, err)
	}
	sel := selection{
		Run:     []test{{"TestA", "TestOK"}, {"TestA", "TestGone"}, {"TestB", "TestX"}, {"TestC", "TestY"}, {"TestE", "TestOK"}},
		Skipped: map[test]skip{{"TestD", "TestZ"}: {"TestD", "no mesh"}},
	}
	r := tally(sel, c)
	byName := map[string]result{}
	for _, res := range r.Tests {
		byName[res.Test] = res
	}
	assert.Equal(t, statusPassed, byName["TestA/TestOK"].Status)
	assert.Equal(t, result{Test: "TestA/TestGone", Status: statusFailed, Reason: "did not run"}, byName["TestA/TestGone"])
	assert.Equal(t, result{Test: "TestB/TestX", Status: statusFailed, Reason: "did not run: TestB failed: no kubeconfig"}, byName["TestB/TestX"])
	assert.Equal(t, statusSkipped, byName["TestC/TestY"].Status, "a suite that skipped itself skips its tests")
	assert.Equal(t, result{Test: "TestD/TestZ", Status: statusSkipped, Reason: "no mesh", SkipList: true}, byName["TestD/TestZ"])
	assert.Equal(t, result{Test: "TestE", Status: statusFailed, Seconds: 3, Reason: "the suite failed outside its tests: could not delete jobs"}, byName["TestE"])
	assert.NotContains(t, byName, "TestB", "a suite whose tests failed is not counted again")
	assert.Equal(t, [3]int{2, 3, 2}, [3]int{r.Passed, r.Failed, r.Skipped})

	var table, md strings.Builder
	writeTable(&table, r)
	assert.Contains(t, table.String(), "skipped (list)")
	assert.Contains(t, table.String(), "2 passed, 3 failed, 2 skipped of 7 tests")
	writeMarkdown(&md, r)
	assert.Contains(t, md.String(), "## Failed (3)")
	assert.Contains(t, md.String(), "| `TestD/TestZ` | - | no mesh |")
}

func TestSuiteEnvSetsWhatTheFixturesRead(t *testing.T) {
	env := suiteEnv([]string{"HOME=/root", "PATH=/usr/bin", "KUBECONFIG=/elsewhere", "E2E_INSTANCE_ID=argo-rollouts-e2e", "E2E_DEBUG=true"},
		config{bin: "/repo/bin", waitTimeout: 120, toolchain: "go1.27.3"}, "/tmp/c/kubeconfig")
	assert.Contains(t, env, "HOME=/root")
	assert.Contains(t, env, "KUBECONFIG=/tmp/c/kubeconfig")
	assert.Contains(t, env, "E2E_INSTANCE_ID=", "the controller runs without an instance id")
	assert.Contains(t, env, "E2E_WAIT_TIMEOUT=120")
	assert.Contains(t, env, "GOTOOLCHAIN=go1.27.3")
	assert.NotContains(t, env, "E2E_DEBUG=true")
	assert.NotContains(t, env, "KUBECONFIG=/elsewhere")
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			assert.True(t, strings.HasPrefix(kv, "PATH=/repo/bin:"), kv)
		}
	}
}

// The skip list names tests of the pinned release: an entry that matches
// nothing after an upgrade is stale. Reads the module cache, where make
// tools put the release.
func TestSkipListNamesRealTests(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com/argoproj/argo-rollouts@"+pinnedArgo(t), "test", "e2e")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("Argo Rollouts is not in the module cache (%s): run `make tools`", dir)
	}
	all, err := inventory(dir)
	require.NoError(t, err)
	assert.Greater(t, len(all), 100, "the release has over a hundred e2e tests")
	for _, s := range append(append([]skip(nil), skips...), isolated...) {
		found := false
		for _, tt := range all {
			if tt.String() == s.Test || tt.Suite == s.Test {
				found = true
			}
		}
		assert.True(t, found, "skip list entry %s names no test of the suite", s.Test)
		assert.NotEmpty(t, s.Reason, s.Test)
	}
}

// pinnedArgo is ARGO_ROLLOUTS_VERSION from the Makefile.
func pinnedArgo(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^ARGO_ROLLOUTS_VERSION \?= (\S+)$`).FindSubmatch(data)
	require.NotNil(t, m, "the Makefile pins ARGO_ROLLOUTS_VERSION")
	return string(m[1])
}

func TestShardKeepsSuitesWholeAndBalances(t *testing.T) {
	var tests []test
	add := func(suite string, n int) {
		for i := range n {
			tests = append(tests, test{suite, "Test" + strings.Repeat("x", i+1)})
		}
	}
	add("TestFunctional", 5)
	add("TestCanary", 4)
	add("TestBlueGreen", 2)
	add("TestRollback", 2)

	parts := shard(tests, 2)
	require.Len(t, parts, 2)
	suitesOf := func(p []test) []string {
		var out []string
		for _, tt := range p {
			if len(out) == 0 || out[len(out)-1] != tt.Suite {
				out = append(out, tt.Suite)
			}
		}
		return out
	}
	// 5 | 4, then 2 onto the 4, then 2 onto the 5: 7 | 6.
	assert.Equal(t, []string{"TestFunctional", "TestRollback"}, suitesOf(parts[0]))
	assert.Equal(t, []string{"TestCanary", "TestBlueGreen"}, suitesOf(parts[1]))
	assert.Equal(t, len(tests), len(parts[0])+len(parts[1]), "every test in one part")

	assert.Len(t, shard(tests, 9), 4, "no more parts than suites")
	assert.Equal(t, [][]test{tests}, shard(tests, 1))
	assert.Len(t, shard(tests, 0), 1)
}

func TestSplitIsolatedRunsThemLast(t *testing.T) {
	a, b, c := test{"TestS", "TestA"}, test{"TestS", "TestB"}, test{"TestS", "TestC"}
	list := []skip{{"TestS/TestB", "leaves a mess"}}
	assert.Equal(t, [][]test{{a, c}, {b}}, splitIsolated([]test{a, b, c}, list))
	assert.Equal(t, [][]test{{a, c}}, splitIsolated([]test{a, c}, list))
	assert.Equal(t, [][]test{{b}}, splitIsolated([]test{b}, list))
}
