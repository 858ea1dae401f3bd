package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/harness/analysis"
	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/harness/strategy"
	"github.com/blastradius/blastradius/loadgen"
)

// The known keys of each mapping; anything else is an "unknown field".
var (
	rootKeys     = []string{"apiVersion", "kind", "metadata", "spec"}
	metadataKeys = []string{"name", "description"}
	specKeys     = []string{
		"stable", "candidate", "groundTruth", "replicas", "load", "strategies", "analyzers",
		"analysis", "steps", "stepPause", "timeScale", "faults", "repeat", "seeds", "timeout", "expect", "routing",
	}
	routingKeys  = []string{"canaryReplicas", "mirrorPercent", "cohortShare"}
	loadKeys     = []string{"profile", "rate", "users", "slo", "warmup", "keepAlive", "previewShare", "workers"}
	analysisKeys = []string{"interval", "count", "failureLimit", "inconclusiveLimit", "maxErrorRate", "maxP99", "window",
		"minRequests", "scrapeInterval", "confidence", "tolerance", "passScore", "marginalScore", "alpha", "beta", "effectSize",
		"policy", "budget", "chaos"}
	faultKeys   = []string{"at", "clear", "podKill", "runtime", "traffic", "analysisPath"}
	pathKeys    = []string{"chaos"}
	podKillKeys = []string{"target", "count"}
	runtimeKeys = []string{"target", "pods", "faults"}
	trafficKeys = []string{"factor"}
	expectKeys  = []string{"verdict", "maxFailedRequests", "maxTimeToDetect", "strategies"}
)

// Load reads and validates one scenario file. The error lists every problem
// of the file (errors.Join of *Error), each with file, line and field.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// LoadAll loads scenario files and the *.yaml and *.yml files of directories
// (not their subdirectories), in name order within a directory and in
// argument order otherwise. Scenario names must be unique across the set.
// The error lists every problem of every file.
func LoadAll(paths ...string) ([]*Scenario, error) {
	if len(paths) == 0 {
		return nil, errors.New("no scenario files given")
	}
	var errs []error
	var files []string
	seen := map[string]bool{}
	addFile := func(f string) {
		key := filepath.Clean(f)
		if abs, err := filepath.Abs(f); err == nil {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			files = append(files, f)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.IsDir() {
			addFile(p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n := 0
		for _, e := range entries { // sorted by name
			ext := filepath.Ext(e.Name())
			if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
				continue
			}
			addFile(filepath.Join(p, e.Name()))
			n++
		}
		if n == 0 {
			errs = append(errs, fmt.Errorf("%s: no scenario files (*.yaml, *.yml) in the directory", p))
		}
	}
	var out []*Scenario
	byName := map[string]*Scenario{}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := byName[s.Name]; dup {
			errs = append(errs, &Error{File: f, Line: s.nameLine, Field: "metadata.name",
				Msg: fmt.Sprintf("duplicate scenario name %q (also in %s)", s.Name, first.File)})
			continue
		}
		byName[s.Name] = s
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Parse validates a scenario from data; file names it in errors and becomes
// Scenario.File.
func Parse(file string, data []byte) (*Scenario, error) {
	dec, doc, err := firstDocument(file, data, "a scenario", Kind)
	if err != nil {
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, &Error{File: file, Line: extra.Line, Msg: "a second YAML document; put one scenario per file"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(file, err)
	}
	d := &decoder{file: file}
	s := d.scenario(doc)
	if err := d.err(); err != nil {
		return nil, err
	}
	s.File = file
	return s, nil
}

// firstDocument decodes the first YAML document of a file that should
// hold what (kind), and returns its root node and the decoder, positioned
// after it.
func firstDocument(file string, data []byte, what, kind string) (*yaml.Decoder, *yaml.Node, error) {
	empty := &Error{File: file, Msg: "empty file; want " + what + " (apiVersion: " + APIVersion + ", kind: " + kind + ")"}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, empty
		}
		return nil, nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil, empty
	}
	return dec, deref(doc.Content[0]), nil
}

// header checks apiVersion and kind of a document's root mapping.
func (f *fields) header(kind string) {
	for _, kv := range [][2]string{{"apiVersion", APIVersion}, {"kind", kind}} {
		key, want := kv[0], kv[1]
		if f.require(key) {
			if v, ok := f.str(key); ok && v != want {
				f.errorf(key, "unsupported %s %q (want %s)", key, v, want)
			}
		}
	}
}

// dnsLabel is an RFC 1123 label, as Kubernetes names need.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (d *decoder) scenario(n *yaml.Node) *Scenario {
	s := &Scenario{}
	root := d.mapping(n, "", n.Line, rootKeys)
	if root == nil {
		return s
	}
	root.header(Kind)
	if root.require("metadata") {
		if md := root.child("metadata", metadataKeys); md != nil {
			if md.require("name") {
				if v, ok := md.str("name"); ok {
					if len(v) > 63 || !dnsLabel.MatchString(v) {
						md.errorf("name", "must be a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), got %q", v)
					}
					s.Name, s.nameLine = v, md.lineOf("name")
				}
			}
			s.Description, _ = md.str("description")
		}
	}
	if root.require("spec") {
		if sp := root.child("spec", specKeys); sp != nil {
			d.spec(sp, s)
		}
	}
	return s
}

// specOK says which spec fields are usable by the checks that relate
// fields: set and valid, or left out for their defaults.
type specOK struct {
	candidate, groundTruth, replicas, timeout, scale, pause, load, interval, steps bool
}

// spec decodes the spec: first every field on its own, then the checks that
// relate fields. A check is skipped when a field it needs was invalid, so
// that one mistake is reported once.
func (d *decoder) spec(sp *fields, s *Scenario) {
	var ok specOK
	ok.candidate = d.versions(sp, s)
	ok.groundTruth = d.groundTruth(sp, s, ok.candidate)
	ok.replicas = d.replicas(sp, s)
	ok.timeout, ok.scale, ok.pause = d.timing(sp, s)
	ok.load = d.load(sp, s)
	d.strategies(sp, s)
	d.analyzers(sp, s)
	ok.interval = d.analysis(sp, s)
	// Only replica ratios need weights that move whole pods; a router
	// sets any weight exactly.
	ok.steps = d.steps(sp, s, ok.replicas && s.UsesReplicaWeights())
	d.seeds(sp, s)
	d.routing(sp, s, ok.replicas)

	// Checks across fields.
	d.checkPauseScale(sp, s, ok)
	d.checkIntervalScale(sp, s, ok)
	d.checkStepsTimeout(sp, s, ok)
	d.checkLoadTimeout(sp, s, ok)
	d.faults(sp, s, ok.replicas, ok.timeout, ok.candidate && !sp.has("groundTruth") && s.Candidate.Good)
	d.expect(sp, s, ok.groundTruth)
	s.RootCause = rootCause(s)
}

// version decodes the required catalog version at key.
func version(sp *fields, key string) (catalog.Version, bool) {
	if !sp.require(key) {
		return catalog.Version{}, false
	}
	tag, ok := sp.str(key)
	if !ok {
		return catalog.Version{}, false
	}
	v, ok := catalog.Lookup(tag)
	if !ok {
		sp.errorf(key, "unknown version %q (blastradius images list shows them all)", tag)
	}
	return v, ok
}

// versions decodes the stable and candidate versions; it reports whether
// the candidate is valid.
func (d *decoder) versions(sp *fields, s *Scenario) bool {
	stableOK, candidateOK := false, false
	s.Stable, stableOK = version(sp, "stable")
	s.Candidate, candidateOK = version(sp, "candidate")
	if stableOK && !s.Stable.Good {
		sp.errorf("stable", "must be a good version, %q is bad (to model an incident on the stable version, use a runtime fault with target: stable)", s.Stable.Tag)
	}
	if stableOK && candidateOK && s.Stable.Tag == s.Candidate.Tag {
		sp.errorf("candidate", "must differ from spec.stable (both are %q): there would be nothing to release", s.Candidate.Tag)
	}
	return candidateOK
}

// groundTruth decodes spec.groundTruth, which defaults to what the catalog
// says of a valid candidate; it reports whether s.GroundTruth is known.
func (d *decoder) groundTruth(sp *fields, s *Scenario, candidateOK bool) bool {
	gtSet := false
	if v, ok := sp.str("groundTruth"); ok {
		switch results.GroundTruth(v) {
		case results.Good, results.Bad:
			s.GroundTruth, gtSet = results.GroundTruth(v), true
		default:
			sp.errorf("groundTruth", "must be good or bad, got %q", v)
		}
	}
	if !gtSet && candidateOK {
		s.GroundTruth = results.Bad
		if s.Candidate.Good {
			s.GroundTruth = results.Good
		}
	}
	return gtSet || (candidateOK && !sp.has("groundTruth"))
}

func (d *decoder) replicas(sp *fields, s *Scenario) bool {
	s.Replicas = DefaultReplicas
	replicasOK := !sp.has("replicas")
	if v, ok := sp.integer("replicas"); ok {
		if v < 1 || v > MaxReplicas {
			sp.errorf("replicas", "must be between 1 and %d, got %d", MaxReplicas, v)
		} else {
			s.Replicas, replicasOK = int(v), true
		}
	}
	return replicasOK
}

// timing decodes timeout, timeScale and stepPause, in that order.
func (d *decoder) timing(sp *fields, s *Scenario) (timeoutOK, scaleOK, pauseOK bool) {
	s.Timeout = DefaultTimeout
	timeoutOK = sp.positive("timeout", &s.Timeout)
	s.TimeScale = DefaultTimeScale
	scaleOK = !sp.has("timeScale")
	if v, ok := sp.number("timeScale"); ok {
		if v <= 0 || v > MaxTimeScale {
			sp.errorf("timeScale", "must be greater than 0 and at most %g, got %g", MaxTimeScale, v)
		} else {
			s.TimeScale, scaleOK = v, true
		}
	}
	s.StepPause = DefaultStepPause
	pauseOK = sp.positive("stepPause", &s.StepPause)
	return timeoutOK, scaleOK, pauseOK
}

// positive decodes the optional duration at key into *dst if it is
// positive. It reports whether key is unset or valid.
func (f *fields) positive(key string, dst *time.Duration) bool {
	v, ok := f.duration(key)
	if !ok {
		return !f.bad(key, ok)
	}
	if v <= 0 {
		f.errorf(key, "must be positive, got %v", v)
		return false
	}
	*dst = v
	return true
}

func (d *decoder) checkPauseScale(sp *fields, s *Scenario, ok specOK) {
	if !ok.scale || !ok.pause || s.Scaled(s.StepPause) >= time.Second {
		return
	}
	line := sp.lineOf("stepPause")
	if !sp.has("stepPause") {
		line = sp.lineOf("timeScale")
	}
	d.errorf(line, sp.field("stepPause"), "%v scaled by timeScale %g is %v; Argo Rollouts counts pauses in whole seconds, so it must be at least 1s",
		s.StepPause, s.TimeScale, s.Scaled(s.StepPause))
}

func (d *decoder) checkIntervalScale(sp *fields, s *Scenario, ok specOK) {
	if !ok.scale || !ok.interval || s.Scaled(s.Analysis.Interval) >= time.Second {
		return
	}
	line, field := sp.lineOf("timeScale"), "spec.analysis.interval"
	if an := sp.child("analysis", analysisKeys); an != nil && an.has("interval") {
		line = an.lineOf("interval")
	}
	d.errorf(line, field, "%v scaled by timeScale %g is %v; it must be at least 1s",
		s.Analysis.Interval, s.TimeScale, s.Scaled(s.Analysis.Interval))
}

func (d *decoder) checkStepsTimeout(sp *fields, s *Scenario, ok specOK) {
	if !ok.timeout || !ok.scale || !ok.pause || !ok.steps || !s.UsesCanarySteps() {
		return
	}
	if need := time.Duration(len(s.Steps)) * s.Scaled(s.StepPause); need >= s.Timeout {
		sp.errorf("timeout", "%v is too short for the canary steps: %d steps × %v (stepPause scaled by timeScale) = %v",
			s.Timeout, len(s.Steps), s.Scaled(s.StepPause), need)
	}
}

// checkLoadTimeout checks the load profile against the timeout, and reports
// a problem at profile, or at rate when the profile is its shorthand.
func (d *decoder) checkLoadTimeout(sp *fields, s *Scenario, ok specOK) {
	if !ok.load || !ok.timeout {
		return
	}
	err := s.Load.Profile.Validate(s.Timeout)
	if err == nil {
		return
	}
	key, line := "profile", sp.lineOf("load")
	if lf := sp.child("load", loadKeys); lf != nil {
		if !lf.has("profile") {
			key = "rate"
		}
		line = lf.lineOf(key)
	}
	msg := err.Error()
	var fe *loadgen.FieldError
	if key == "rate" && errors.As(err, &fe) && fe.Field == "rate" {
		msg = fe.Err.Error()
	}
	d.errorf(line, "spec.load."+key, "%s", msg)
}

// optional decodes the mapping at key if it is set. ok is false when it is
// set but not a mapping (reported); c is nil unless it is a mapping.
func (f *fields) optional(key string, known []string) (c *fields, ok bool) {
	if !f.has(key) {
		return nil, true
	}
	c = f.child(key, known)
	return c, c != nil
}

func (d *decoder) load(sp *fields, s *Scenario) bool {
	s.Load = LoadSpec{
		Profile:      loadgen.ConstantProfile(DefaultRate),
		Users:        DefaultUsers,
		SLO:          DefaultSLO,
		Warmup:       DefaultWarmup,
		PreviewShare: DefaultPreviewShare,
	}
	lf, ok := sp.optional("load", loadKeys)
	if lf == nil {
		return ok
	}
	switch {
	case lf.has("profile") && lf.has("rate"):
		lf.errorf("rate", "set either profile or rate (the shorthand for constant:rate=N), not both")
		ok = false
	case lf.has("profile"):
		if v, good := lf.str("profile"); !good {
			ok = false
		} else if p, err := loadgen.ParseProfile(v); err != nil {
			lf.errorf("profile", "%v", err)
			ok = false
		} else {
			s.Load.Profile = p
		}
	case lf.has("rate"):
		if v, good := lf.number("rate"); good {
			s.Load.Profile = loadgen.ConstantProfile(v)
		} else {
			ok = false
		}
	}
	if v, good := lf.integer("users"); good {
		if v < 1 || v > loadgen.MaxUsers {
			lf.errorf("users", "must be between 1 and %d, got %d", loadgen.MaxUsers, v)
		} else {
			s.Load.Users = int(v)
		}
	}
	lf.positive("slo", &s.Load.SLO)
	if v, good := lf.duration("warmup"); good {
		if v < 0 {
			lf.errorf("warmup", "must not be negative, got %v", v)
		} else {
			s.Load.Warmup = v
		}
	}
	if v, good := lf.boolean("keepAlive"); good {
		s.Load.KeepAlive = v
	}
	if v, good := lf.number("previewShare"); good {
		if v < 0 || v >= 1 {
			lf.errorf("previewShare", "must be at least 0 and less than 1, got %g", v)
		} else {
			s.Load.PreviewShare = v
		}
	}
	if v, good := lf.integer("workers"); good {
		switch {
		case v < 1 || v > MaxLoadWorkers:
			lf.errorf("workers", "must be between 1 and %d, got %d", MaxLoadWorkers, v)
		case v > int64(s.Load.Users):
			lf.errorf("workers", "%d workers need at least as many users (users: %d)", v, s.Load.Users)
		default:
			s.Load.Workers = int(v)
		}
	}
	return ok
}

// routing decodes what the routed strategies need: the fixed canary's
// size, shadow's mirrored share, the dark launch's cohort.
func (d *decoder) routing(sp *fields, s *Scenario, replicasOK bool) {
	s.Routing = Routing{CanaryReplicas: 1, MirrorPercent: 100, CohortShare: DefaultCohortShare}
	rf, _ := sp.optional("routing", routingKeys)
	if rf == nil {
		return
	}
	if v, ok := rf.integer("canaryReplicas"); ok {
		switch {
		case v < 1:
			rf.errorf("canaryReplicas", "must be at least 1, got %d", v)
		case replicasOK && v > int64(s.Replicas):
			rf.errorf("canaryReplicas", "must be at most spec.replicas (%d), got %d", s.Replicas, v)
		default:
			s.Routing.CanaryReplicas = int(v)
		}
	}
	if v, ok := rf.integer("mirrorPercent"); ok {
		if v < 1 || v > 100 {
			rf.errorf("mirrorPercent", "must be between 1 and 100, got %d", v)
		} else {
			s.Routing.MirrorPercent = int(v)
		}
	}
	if v, ok := rf.number("cohortShare"); ok {
		if v <= 0 || v >= 1 {
			rf.errorf("cohortShare", "must be above 0 and below 1, got %g", v)
		} else {
			s.Routing.CohortShare = v
		}
	}
}

// names decodes a list of distinct names, each checked by known.
func (d *decoder) names(sp *fields, key, what string, known []string) ([]string, bool) {
	items, ok := sp.list(key)
	if !ok {
		return nil, false
	}
	if len(items) == 0 {
		sp.errorf(key, "must not be empty (leave it out for the default)")
		return nil, false
	}
	var out []string
	good := true
	for i, it := range items {
		path := index(sp.field(key), i)
		v, ok := d.str(it, path)
		switch {
		case !ok:
			good = false
		case !slices.Contains(known, v):
			d.errorf(it.Line, path, "unknown %s %q (known: %s)", what, v, strings.Join(known, ", "))
			good = false
		case slices.Contains(out, v):
			d.errorf(it.Line, path, "duplicate %s %q", what, v)
			good = false
		default:
			out = append(out, v)
		}
	}
	return out, good
}

func (d *decoder) strategies(sp *fields, s *Scenario) {
	s.Strategies = strategy.Defaults()
	if v, _ := d.names(sp, "strategies", "strategy", strategy.Names()); len(v) > 0 {
		s.Strategies = v // if some were invalid, the valid ones keep later checks quiet
	}
}

func (d *decoder) analyzers(sp *fields, s *Scenario) {
	s.Analyzers = []string{analysis.Default}
	if v, ok := d.names(sp, "analyzers", "analyzer", analysis.Names()); ok {
		s.Analyzers = v
	}
}

// analysis reports whether the interval is usable for the scale check.
func (d *decoder) analysis(sp *fields, s *Scenario) bool {
	a := Analysis{
		Interval:          DefaultInterval,
		Count:             DefaultCount,
		FailureLimit:      DefaultFailureLimit,
		InconclusiveLimit: DefaultCount - 1,
		Params:            analyzer.Defaults,
	}
	a.MaxErrorRate, a.MaxP99, a.Window = DefaultMaxErrorRate, DefaultMaxP99, DefaultWindow
	defer func() { s.Analysis = a }()
	af, ok := sp.optional("analysis", analysisKeys)
	if af == nil {
		return ok
	}
	intervalOK := af.positive("interval", &a.Interval)
	af.positive("maxP99", &a.MaxP99)
	af.positive("window", &a.Window)
	af.positive("scrapeInterval", &a.ScrapeInterval)
	countOK := !af.has("count")
	if v, ok := af.integer("count"); ok {
		if v < 1 || v > 1000 {
			af.errorf("count", "must be between 1 and 1000, got %d", v)
		} else {
			a.Count, countOK = int(v), true
		}
	}
	if v, ok := af.integer("failureLimit"); ok {
		switch {
		case v < 0:
			af.errorf("failureLimit", "must not be negative, got %d", v)
		case countOK && v >= int64(a.Count):
			af.errorf("failureLimit", "must be less than count (%d), or the analysis can never fail, got %d", a.Count, v)
		default:
			a.FailureLimit = int(v)
		}
	}
	a.InconclusiveLimit = a.Count - 1
	if v, ok := af.integer("inconclusiveLimit"); ok {
		if v < 0 {
			af.errorf("inconclusiveLimit", "must not be negative, got %d", v)
		} else {
			a.InconclusiveLimit = int(v)
		}
	}
	if v, ok := af.integer("minRequests"); ok {
		if v < 1 || v > 1e6 {
			af.errorf("minRequests", "must be between 1 and 1000000, got %d", v)
		} else {
			a.MinRequests = int(v)
		}
	}
	analysisNumbers(af, &a)
	analysisAI(af, &a)
	return intervalOK
}

// analysisAI reads the external analyzers' failure policy, budget and
// injected chaos.
func analysisAI(af *fields, a *Analysis) {
	af.positive("budget", &a.Budget)
	if v, ok := af.str("policy"); ok {
		if p := results.FailurePolicy(v); slices.Contains(results.Policies(), p) {
			a.Policy = p
		} else {
			af.errorf("policy", "must be one of %s, got %q", joinStrings(results.Policies()), v)
		}
	}
	if v, ok := af.str("chaos"); ok {
		if c := results.Chaos(v); slices.Contains(results.ChaosModes(), c) {
			a.Chaos = c
		} else {
			af.errorf("chaos", "must be one of %s, got %q", joinStrings(results.ChaosModes()), v)
		}
	}
}

func joinStrings[T ~string](vs []T) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}

// analysisNumbers reads the analyzers' numeric parameters, each within its
// range (docs/analyzers.md says what each means).
func analysisNumbers(af *fields, a *Analysis) {
	for _, f := range []struct {
		key      string
		dst      *float64
		min, max float64
		minOpen  bool // min itself is refused
		maxOpen  bool
	}{
		{"maxErrorRate", &a.MaxErrorRate, 0, 1, false, true},
		{"confidence", &a.Confidence, 0.5, 1, false, true},
		{"tolerance", &a.Tolerance, 0, 10, false, false},
		{"passScore", &a.PassScore, 0, 100, false, false},
		{"marginalScore", &a.MarginalScore, 0, 100, false, false},
		{"alpha", &a.Alpha, 0, 0.5, true, false},
		{"beta", &a.Beta, 0, 0.5, true, false},
		{"effectSize", &a.EffectSize, 0, 1, true, true},
	} {
		v, ok := af.number(f.key)
		if !ok {
			continue
		}
		if v < f.min || v > f.max || (f.minOpen && v == f.min) || (f.maxOpen && v == f.max) {
			af.errorf(f.key, "must be in %s, got %g", bracket(f.min, f.max, f.minOpen, f.maxOpen), v)
			continue
		}
		*f.dst = v
	}
	if a.MarginalScore > a.PassScore {
		af.errorf("marginalScore", "must not be above passScore (%g), got %g", a.PassScore, a.MarginalScore)
	}
}

func bracket(lo, hi float64, loOpen, hiOpen bool) string {
	l, r := "[", "]"
	if loOpen {
		l = "("
	}
	if hiOpen {
		r = ")"
	}
	return fmt.Sprintf("%s%g, %g%s", l, lo, hi, r)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// steps decodes the canary weights; checkPods says whether to check that
// each weight moves whole pods (the replicas are valid and a strategy walks
// the steps).
func (d *decoder) steps(sp *fields, s *Scenario, checkPods bool) bool {
	s.Steps = DefaultSteps()
	items, ok := sp.list("steps")
	if !ok {
		if sp.has("steps") {
			return false
		}
		// The defaults must fit the replicas too.
		items = nil
	} else if len(items) == 0 {
		sp.errorf("steps", "must not be empty (leave it out for the default %v)", DefaultSteps())
		return false
	}
	unit := 100 / gcd(100, s.Replicas) // the smallest weight that moves whole pods
	if items == nil {
		if checkPods && unit > 1 {
			for _, w := range s.Steps {
				if w%unit != 0 {
					sp.errorf("replicas", "the default steps %v need replicas that put whole pods at each weight; set spec.steps to multiples of %d", DefaultSteps(), unit)
					return false
				}
			}
		}
		return true
	}
	var steps []int
	good := true
	for i, it := range items {
		path := index(sp.field("steps"), i)
		v, ok := d.integer(it, path)
		switch {
		case !ok:
			good = false
			continue
		case v < 1 || v > 99:
			d.errorf(it.Line, path, "must be a weight between 1 and 99 percent (the full promotion follows the last step), got %d", v)
			good = false
			continue
		case len(steps) > 0 && int(v) <= steps[len(steps)-1]:
			d.errorf(it.Line, path, "must be greater than the step before (%d): weights only go up, got %d", steps[len(steps)-1], v)
			good = false
		case checkPods && unit == 100:
			d.errorf(it.Line, path, "no weight below 100 puts whole pods of %d replicas on the candidate; use replicas such as 4, 5, 10 or 20", s.Replicas)
			good = false
		case checkPods && int(v)%unit != 0:
			d.errorf(it.Line, path, "weight %d is not a multiple of %d: with %d replicas each step must move whole pods", v, unit, s.Replicas)
			good = false
		}
		steps = append(steps, int(v))
	}
	if good {
		s.Steps = steps
	}
	return good
}

func (d *decoder) seeds(sp *fields, s *Scenario) {
	s.Seeds = []int64{DefaultSeed}
	seedsOK := !sp.has("seeds")
	if items, ok := sp.list("seeds"); ok {
		if len(items) == 0 {
			sp.errorf("seeds", "must not be empty (leave it out for the default [%d])", DefaultSeed)
		}
		var seeds []int64
		good := len(items) > 0
		for i, it := range items {
			path := index(sp.field("seeds"), i)
			v, ok := d.integer(it, path)
			switch {
			case !ok:
				good = false
			case v < 0:
				d.errorf(it.Line, path, "must not be negative, got %d", v)
				good = false
			case slices.Contains(seeds, v):
				d.errorf(it.Line, path, "duplicate seed %d", v)
				good = false
			default:
				seeds = append(seeds, v)
			}
		}
		if good {
			s.Seeds, seedsOK = seeds, true
		}
	}
	repeat, ok := sp.integer("repeat")
	if !ok {
		s.Repeat = len(s.Seeds)
		return
	}
	switch {
	case repeat < 1 || repeat > 1000:
		sp.errorf("repeat", "must be between 1 and 1000, got %d", repeat)
		repeat = 1
	case seedsOK && len(s.Seeds) > 1 && int(repeat) != len(s.Seeds):
		sp.errorf("repeat", "is %d but seeds lists %d; with several seeds each seed is one repetition (list one seed to count up from it)", repeat, len(s.Seeds))
		repeat = int64(len(s.Seeds))
	}
	if len(s.Seeds) == 1 {
		base := s.Seeds[0]
		s.Seeds = make([]int64, repeat)
		for i := range s.Seeds {
			s.Seeds[i] = base + int64(i)
		}
	}
	s.Repeat = len(s.Seeds)
}

func parseTarget(d *decoder, f *fields) (Target, bool) {
	if !f.require("target") {
		return "", false
	}
	v, ok := f.str("target")
	if !ok {
		return "", false
	}
	switch Target(v) {
	case TargetStable, TargetCandidate:
		return Target(v), true
	}
	f.errorf("target", "must be stable or candidate, got %q", v)
	return "", false
}

// faultDecoder decodes the entries of spec.faults against the rest of the
// spec.
type faultDecoder struct {
	d                     *decoder
	s                     *Scenario
	replicasOK, timeoutOK bool
	// needGroundTruth is true when the candidate is good by the catalog and
	// spec.groundTruth is not set: a runtime fault on it then makes its
	// ground truth ambiguous.
	needGroundTruth bool
}

// placedFault is a decoded fault and its field path, for the overlap check.
type placedFault struct {
	Fault
	path string
}

// faults decodes the fault timeline. needGroundTruth is as in faultDecoder.
func (d *decoder) faults(sp *fields, s *Scenario, replicasOK, timeoutOK, needGroundTruth bool) {
	items, ok := sp.list("faults")
	if !ok {
		return
	}
	fd := &faultDecoder{d: d, s: s, replicasOK: replicasOK, timeoutOK: timeoutOK, needGroundTruth: needGroundTruth}
	var done []placedFault
	for i, it := range items {
		path := index(sp.field("faults"), i)
		f, ok := fd.fault(it, path)
		if !ok {
			continue
		}
		p := placedFault{f, path}
		d.overlaps(p, done)
		done = append(done, p)
		s.Faults = append(s.Faults, f)
	}
}

// fault decodes one entry of the timeline; ok is false when it is invalid
// (reported).
func (fd *faultDecoder) fault(it *yaml.Node, path string) (Fault, bool) {
	ff := fd.d.mapping(it, path, it.Line, faultKeys)
	if ff == nil {
		return Fault{}, false
	}
	f := Fault{Line: it.Line}
	atOK := fd.at(ff, &f)
	clearOK := fd.clear(ff, &f, atOK)
	kind, ok := fd.kind(ff, it.Line, path)
	if !ok {
		return Fault{}, false
	}
	switch kind {
	case "podKill":
		f.PodKill = fd.podKill(ff)
	case "runtime":
		f.Runtime = fd.runtime(ff)
	case "traffic":
		f.Traffic = fd.traffic(ff)
	case "analysisPath":
		f.AnalysisPath = fd.analysisPath(ff)
	}
	return f, atOK && clearOK && (f.PodKill != nil || f.Runtime != nil || f.Traffic != nil || f.AnalysisPath != nil)
}

// at decodes when the fault starts, into f.At.
func (fd *faultDecoder) at(ff *fields, f *Fault) bool {
	if !ff.require("at") {
		return false
	}
	v, ok := ff.duration("at")
	if !ok {
		return false
	}
	switch {
	case v < 0:
		ff.errorf("at", "must not be negative, got %v", v)
		return false
	case fd.timeoutOK && v >= fd.s.Timeout:
		ff.errorf("at", "%v is not before the timeout (%v)", v, fd.s.Timeout)
		return false
	}
	f.At = v
	return true
}

// clear decodes when the fault ends, into f.Clear; atOK says whether f.At is
// valid to compare with. It reports whether clear is unset or valid.
func (fd *faultDecoder) clear(ff *fields, f *Fault, atOK bool) bool {
	v, ok := ff.duration("clear")
	if !ok {
		return !ff.bad("clear", ok)
	}
	switch {
	case atOK && v <= f.At:
		ff.errorf("clear", "must be after at (%v), got %v", f.At, v)
		return false
	case fd.timeoutOK && v > fd.s.Timeout:
		ff.errorf("clear", "%v is after the timeout (%v); leave clear out for a fault that lasts to the end", v, fd.s.Timeout)
		return false
	}
	f.Clear = v
	return true
}

// kind finds the one kind of fault the entry sets.
func (fd *faultDecoder) kind(ff *fields, line int, path string) (string, bool) {
	var kinds []string
	for _, k := range []string{"podKill", "runtime", "traffic", "analysisPath"} {
		if ff.has(k) {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		fd.d.errorf(line, path, "needs one of podKill, runtime, traffic or analysisPath")
		return "", false
	case 1:
		return kinds[0], true
	}
	ff.errorf(kinds[1], "one fault per entry: this entry already has %s", kinds[0])
	return "", false
}

// maxPods decodes the optional pod count at key, at least 1 and at most the
// replicas; what is added to the message for a count below 1. 0 means unset.
func (fd *faultDecoder) maxPods(f *fields, key string, what string) (int, bool) {
	v, ok := f.integer(key)
	if !ok {
		return 0, !f.bad(key, ok)
	}
	if v < 1 {
		f.errorf(key, "must be at least 1%s, got %d", what, v)
		return 0, false
	}
	if fd.replicasOK && v > int64(fd.s.Replicas) {
		f.errorf(key, "must be at most spec.replicas (%d), got %d", fd.s.Replicas, v)
		return 0, false
	}
	return int(v), true
}

// targetPods decodes the target of a podKill or runtime fault and its pod
// count at podsKey; the target is "" if it is invalid.
func (fd *faultDecoder) targetPods(f *fields, podsKey, what string) (Target, int, bool) {
	t, tok := parseTarget(fd.d, f)
	pods, pok := fd.maxPods(f, podsKey, what)
	return t, pods, tok && pok
}

// podKill decodes the podKill of an entry; nil if it is invalid (reported).
func (fd *faultDecoder) podKill(ff *fields) *PodKill {
	pk := ff.child("podKill", podKillKeys)
	if pk == nil {
		return nil
	}
	t, count, ok := fd.targetPods(pk, "count", "")
	if !ok {
		return nil
	}
	if count == 0 {
		count = 1
	}
	return &PodKill{Target: t, Count: count}
}

// runtime decodes the runtime fault of an entry; nil if it is invalid
// (reported).
func (fd *faultDecoder) runtime(ff *fields) *RuntimeFault {
	rt := ff.child("runtime", runtimeKeys)
	if rt == nil {
		return nil
	}
	t, pods, ok := fd.targetPods(rt, "pods", " (leave pods out for all of the target's pods)")
	var faults demoapp.Faults
	fok := rt.require("faults")
	if fok {
		faults, fok = fd.d.demoFaults(rt.vals["faults"], rt.field("faults"), rt.keys["faults"].Line)
	}
	if t == TargetCandidate && fd.needGroundTruth {
		rt.errorf("target", "a runtime fault on the candidate changes how %q behaves; set spec.groundTruth to good or bad", fd.s.Candidate.Tag)
	}
	if !ok || !fok {
		return nil
	}
	return &RuntimeFault{Target: t, Pods: pods, Faults: faults}
}

// traffic decodes the traffic change of an entry; nil if it is invalid
// (reported).
func (fd *faultDecoder) traffic(ff *fields) *TrafficChange {
	tr := ff.child("traffic", trafficKeys)
	if tr == nil || !tr.require("factor") {
		return nil
	}
	v, ok := tr.number("factor")
	if !ok {
		return nil
	}
	if v <= 0 || v > MaxTrafficFactor || v == 1 {
		tr.errorf("factor", "must be greater than 0 and at most %g, and not 1 (above 1 a spike, below 1 a drop), got %g", MaxTrafficFactor, v)
		return nil
	}
	return &TrafficChange{Factor: v}
}

// analysisPath decodes the analysis-path chaos of an entry; nil if it is
// invalid (reported). It acts on the AI analyzers only, so a scenario
// without one has nothing for it to act on.
func (fd *faultDecoder) analysisPath(ff *fields) *AnalysisPathFault {
	ap := ff.child("analysisPath", pathKeys)
	if ap == nil || !ap.require("chaos") {
		return nil
	}
	v, ok := ap.str("chaos")
	if !ok {
		return nil
	}
	c := results.Chaos(v)
	if !slices.Contains(results.ChaosModes(), c) {
		ap.errorf("chaos", "must be one of %s, got %q", joinStrings(results.ChaosModes()), v)
		return nil
	}
	if !slices.ContainsFunc(fd.s.Analyzers, analysis.IsExternal) {
		ap.errorf("chaos", "acts on the calls of llm and agent, and spec.analyzers names neither")
		return nil
	}
	return &AnalysisPathFault{Chaos: c}
}

// overlaps reports where f overlaps an earlier fault of done. Faults of one
// kind that replace each other must not overlap.
func (d *decoder) overlaps(f placedFault, done []placedFault) {
	for _, o := range done {
		if f.At >= o.End() || o.At >= f.End() {
			continue
		}
		switch {
		case f.Traffic != nil && o.Traffic != nil:
			d.errorf(f.Line, f.path, "overlaps %s: traffic changes must not overlap in time", o.path)
		case f.AnalysisPath != nil && o.AnalysisPath != nil:
			d.errorf(f.Line, f.path, "overlaps %s: analysis-path faults must not overlap in time", o.path)
		case f.Runtime != nil && o.Runtime != nil && f.Runtime.Target == o.Runtime.Target:
			d.errorf(f.Line, f.path, "overlaps %s on the %s pods: runtime faults replace each other, so they must not overlap in time; merge them", o.path, f.Runtime.Target)
		}
	}
}

// demoFaults decodes the demo app faults of a runtime fault with the demo
// app's own rules: its JSON field names, unknown fields rejected, Validate.
func (d *decoder) demoFaults(n *yaml.Node, path string, line int) (demoapp.Faults, bool) {
	m := d.mapping(n, path, line, nil)
	if m == nil {
		return demoapp.Faults{}, false
	}
	report := func(err error) {
		var fe *demoapp.FieldError
		if errors.As(err, &fe) {
			m.errorf(fe.Field, "%s", fe.Msg)
		} else {
			d.errorf(line, path, "%v", err)
		}
	}
	obj := map[string]any{}
	good := true
	for _, key := range m.order { // each field on its own, to report them all
		var v any
		if err := m.vals[key].Decode(&v); err != nil {
			m.errorf(key, "%v", err)
			good = false
			continue
		}
		one, err := json.Marshal(map[string]any{key: v})
		if err != nil {
			m.errorf(key, "unsupported value %s", describe(m.vals[key]))
			good = false
			continue
		}
		var f demoapp.Faults
		if err := f.UnmarshalJSON(one); err != nil {
			report(err)
			good = false
			continue
		}
		// Range checks of this field alone; rules that relate fields wait.
		var fe *demoapp.FieldError
		if err := f.Validate(); errors.As(err, &fe) && fe.Field == key {
			report(err)
			good = false
			continue
		}
		obj[key] = v
	}
	if !good {
		return demoapp.Faults{}, false
	}
	all, err := json.Marshal(obj)
	if err != nil {
		d.errorf(line, path, "%v", err)
		return demoapp.Faults{}, false
	}
	var f demoapp.Faults
	if err := f.UnmarshalJSON(all); err != nil {
		report(err)
		return demoapp.Faults{}, false
	}
	if err := f.Validate(); err != nil {
		report(err)
		return demoapp.Faults{}, false
	}
	if f.CrashOnStart {
		m.errorf("crashOnStart", "is read at process start only and has no effect at run time; use crashAfterRequests or crashPath, or a crash- candidate")
		return demoapp.Faults{}, false
	}
	return f, true
}

// expect decodes spec.expect: one expectation, or a list of them each for
// different strategies. gtOK says whether s.GroundTruth is known.
func (d *decoder) expect(sp *fields, s *Scenario, gtOK bool) {
	n, ok := sp.vals["expect"]
	if !ok {
		return
	}
	var entries []*yaml.Node
	var paths []string
	switch n.Kind {
	case yaml.MappingNode:
		entries, paths = []*yaml.Node{n}, []string{sp.field("expect")}
	case yaml.SequenceNode:
		items, _ := d.list(n, sp.field("expect"))
		if len(items) == 0 {
			sp.errorf("expect", "must not be empty (leave it out for no expectations)")
			return
		}
		for i, it := range items {
			entries = append(entries, it)
			paths = append(paths, index(sp.field("expect"), i))
		}
	default:
		sp.errorf("expect", "must be a mapping or a list of mappings, got %s", describe(n))
		return
	}
	owner := map[string]string{} // strategy -> path of the expectation naming it
	defaultPath := ""
	for i, en := range entries {
		line := en.Line
		if len(entries) == 1 {
			line = sp.keys["expect"].Line
		}
		ef := d.mapping(en, paths[i], line, expectKeys)
		if ef == nil {
			continue
		}
		var e Expect
		if v, ok := ef.vals["verdict"]; ok {
			e.Verdicts = d.verdicts(v, ef.field("verdict"), s.GroundTruth, gtOK)
		}
		if v, ok := ef.integer("maxFailedRequests"); ok {
			if v < 0 {
				ef.errorf("maxFailedRequests", "must not be negative, got %d", v)
			} else {
				e.MaxFailedRequests = &v
			}
		}
		if v, ok := ef.duration("maxTimeToDetect"); ok {
			switch {
			case v <= 0:
				ef.errorf("maxTimeToDetect", "must be positive, got %v", v)
			case gtOK && s.GroundTruth == results.Good:
				ef.errorf("maxTimeToDetect", "applies to bad releases only; this release is good (ground truth)")
			default:
				e.MaxTimeToDetect = &v
			}
		}
		if !ef.has("verdict") && !ef.has("maxFailedRequests") && !ef.has("maxTimeToDetect") {
			d.errorf(line, paths[i], "empty expectation: set verdict, maxFailedRequests or maxTimeToDetect")
		}
		if items, ok := ef.list("strategies"); ok {
			if len(items) == 0 {
				ef.errorf("strategies", "must not be empty (leave it out for every strategy)")
			}
			known := strategy.Names()
			for j, it := range items {
				field := index(ef.field("strategies"), j)
				name, ok := d.str(it, field)
				switch {
				case !ok:
				case !slices.Contains(known, name):
					d.errorf(it.Line, field, "unknown strategy %q (known: %s)", name, strings.Join(known, ", "))
				case slices.Contains(e.Strategies, name):
					d.errorf(it.Line, field, "duplicate strategy %q", name)
				case !slices.Contains(s.Strategies, name):
					d.errorf(it.Line, field, "strategy %q is not in spec.strategies (%s)", name, strings.Join(s.Strategies, ", "))
				case owner[name] != "":
					d.errorf(it.Line, field, "strategy %q already has an expectation (%s)", name, owner[name])
				default:
					owner[name] = paths[i]
					e.Strategies = append(e.Strategies, name)
				}
			}
		} else if !ef.has("strategies") {
			if defaultPath != "" {
				d.errorf(line, paths[i], "a second expectation without strategies (the first is %s); name the strategies each applies to", defaultPath)
			}
			defaultPath = paths[i]
		}
		s.Expect = append(s.Expect, e)
	}
}

func (d *decoder) verdicts(n *yaml.Node, path string, gt results.GroundTruth, gtOK bool) []results.Verdict {
	items := []*yaml.Node{n}
	paths := []string{path}
	if n.Kind == yaml.SequenceNode {
		items, _ = d.list(n, path)
		if len(items) == 0 {
			d.errorf(n.Line, path, "must not be empty")
		}
		paths = nil
		for i := range items {
			paths = append(paths, index(path, i))
		}
	}
	known := make([]string, 0, len(results.Verdicts()))
	for _, v := range results.Verdicts() {
		known = append(known, string(v))
	}
	var out []results.Verdict
	for i, it := range items {
		v, ok := d.str(it, paths[i])
		if !ok {
			continue
		}
		vd := results.Verdict(v)
		switch {
		case !slices.Contains(results.Verdicts(), vd):
			d.errorf(it.Line, paths[i], "unknown verdict %q (known: %s)", v, strings.Join(known, ", "))
		case gtOK && !vd.AppliesTo(gt):
			d.errorf(it.Line, paths[i], "%q cannot happen: this release is %s (ground truth)", v, gt)
		case slices.Contains(out, vd):
			d.errorf(it.Line, paths[i], "duplicate verdict %q", v)
		default:
			out = append(out, vd)
		}
	}
	return out
}
