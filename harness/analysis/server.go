package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/harness/analyzer"
	"github.com/blastradius/blastradius/harness/results"
)

// Config configures a Server. Only Client is required.
type Config struct {
	Client kubernetes.Interface
	// Dynamic, when set, reads the Rollout for the external analyzers'
	// Context (step and set weight); without it they are unknown.
	Dynamic dynamic.Interface
	// PodURL is the base URL of a pod's port as the harness reaches it; the
	// platform knows. Default: http://<podIP>:<port>.
	PodURL      func(ctx context.Context, pod *corev1.Pod, port int) (string, error)
	MetricsPort int // default 8080
	// Analyzers served by name; default the builtin ones (Builtin).
	Analyzers []Analyzer
	// ShadowExternal asks the external analyzers (llm, agent) in shadow
	// too; off, they answer only the calls that name them, as each of
	// their answers costs time and money.
	ShadowExternal bool
	// Defaults fill in parameters a query leaves out; default analyzer.Defaults.
	Defaults Params
	// ScrapeInterval is how often pods of active namespaces are scraped
	// (once Start runs): namespaces with a call in the last Idle, and
	// watched ones. Default 1s.
	ScrapeInterval time.Duration
	ScrapeTimeout  time.Duration // per scrape; default 2s
	Idle           time.Duration // default 2m
	// Retention is how much history is kept, and so the longest window.
	// Default 10m.
	Retention time.Duration
	// YoungPod: a pod first scraped whose process started less than this
	// before its namespace's first scrape counts from zero. Default 10s.
	YoungPod time.Duration
	Addr     string           // Start's listen address; default 127.0.0.1:0
	OnCall   func(Call)       // after each /analyze call, before answering: keep it quick
	Now      func() time.Time // default time.Now
}

// Query is one /analyze request.
type Query struct {
	Namespace, Hash, StableHash, Analyzer string
	Params
}

// Call records one /analyze request and its outcome.
type Call struct {
	Time time.Time
	Query
	Now        float64 // the analysis time in the namespace's trace
	Candidates int     // candidate pods seen in the window
	Verdict    Verdict // zero unless Status is 200
	Shadow     []results.ShadowAnswer
	Status     int // HTTP status answered
	Error      string
	Duration   time.Duration
}

// Server is the analysis endpoint: GET /analyze?namespace=&hash=&stableHash=
// &analyzer=[&maxErrorRate=&maxP99=&window=&minRequests=&confidence=...]
// answers a JSON Verdict (parameters: see parseQuery). Durations are Go
// durations ("500ms") or seconds.
type Server struct {
	cfg       Config
	analyzers []Analyzer // catalog order
	byName    map[string]Analyzer
	client    *http.Client

	mu        sync.Mutex
	pods      map[string]*pod          // by namespace/pod/uid
	timelines map[string]*timeline     // by namespace
	lastCall  map[string]time.Time     // namespace → last /analyze call
	watched   map[string]int           // namespace → Watch count
	chaos     map[string]results.Chaos // namespace → analysis-path fault in force
	params    map[string]Params        // namespace → parameters of calls that carry none
	calls     []Call

	stop func()
	done chan struct{}
}

// NewServer builds a Server. Start serves it; mounted elsewhere as an
// http.Handler it scrapes only on calls (no background scraping, so Watch
// has no effect).
func NewServer(cfg Config) *Server {
	if cfg.PodURL == nil {
		cfg.PodURL = podIPURL
	}
	if cfg.MetricsPort == 0 {
		cfg.MetricsPort = 8080
	}
	if len(cfg.Analyzers) == 0 {
		cfg.Analyzers = Builtin()
	}
	cfg.Defaults = cfg.Defaults.WithDefaults()
	cfg.ScrapeInterval = cmpOr(cfg.ScrapeInterval, time.Second)
	cfg.ScrapeTimeout = cmpOr(cfg.ScrapeTimeout, 2*time.Second)
	cfg.Idle = cmpOr(cfg.Idle, 2*time.Minute)
	cfg.Retention = cmpOr(cfg.Retention, 10*time.Minute)
	cfg.YoungPod = cmpOr(cfg.YoungPod, 10*time.Second)
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:       cfg,
		analyzers: cfg.Analyzers,
		byName:    map[string]Analyzer{},
		client:    &http.Client{Timeout: cfg.ScrapeTimeout},
		pods:      map[string]*pod{},
		timelines: map[string]*timeline{},
		lastCall:  map[string]time.Time{},
		watched:   map[string]int{},
		chaos:     map[string]results.Chaos{},
		params:    map[string]Params{},
	}
	for _, a := range cfg.Analyzers {
		s.byName[a.Name()] = a
	}
	return s
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func podIPURL(_ context.Context, pod *corev1.Pod, port int) (string, error) {
	if pod.Status.PodIP == "" {
		return "", errors.New("no pod IP yet")
	}
	return "http://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)), nil
}

// Start serves on cfg.Addr and scrapes active namespaces in the background
// until ctx ends or Close. It returns the base URL, e.g. http://127.0.0.1:34567.
func (s *Server) Start(ctx context.Context) (string, error) {
	if s.stop != nil {
		return "", errors.New("analysis server already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(ctx)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	s.stop, s.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = srv.Serve(ln) }()
	go func() { defer wg.Done(); s.loop(ctx) }()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		c()
		wg.Wait()
		close(s.done)
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops what Start started and waits for it.
func (s *Server) Close() error {
	if s.stop == nil {
		return nil
	}
	s.stop()
	<-s.done
	return nil
}

// Watch scrapes the namespace's rollout pods from now on (once Start runs),
// not only after the first call, so that the first measurement already has
// a full window of history. Calls for the namespace that carry no
// parameters (the agent API's, e.g. the metric-ai plugin's) are answered
// with params. The returned func ends the watch.
func (s *Server) Watch(namespace string, params Params) (unwatch func()) {
	s.mu.Lock()
	s.watched[namespace]++
	s.params[namespace] = params.WithDefaults()
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.watched[namespace]--; s.watched[namespace] <= 0 {
				delete(s.watched, namespace)
				delete(s.params, namespace)
			}
			s.mu.Unlock()
		})
	}
}

// Calls returns every /analyze call so far, oldest first (one run's worth:
// the log is never trimmed).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Analyzers lists the analyzers served, sorted.
func (s *Server) Analyzers() []string { return slices.Sorted(maps.Keys(s.byName)) }

// Recorded returns the calls for one namespace as results.json keeps them.
func (s *Server) Recorded(namespace string) []results.AnalysisCall {
	out := []results.AnalysisCall{}
	for _, c := range s.Calls() {
		if c.Namespace == namespace {
			out = append(out, c.Record())
		}
	}
	return out
}

// Forget drops the calls recorded for the namespace: a namespace that
// lives on after its release is scored (the live demo's) keeps only what
// it still shows, so that memory stays flat.
func (s *Server) Forget(namespace string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = slices.DeleteFunc(s.calls, func(c Call) bool { return c.Namespace == namespace })
}

// Record is the call as results.json keeps it.
func (c Call) Record() results.AnalysisCall {
	return results.AnalysisCall{
		Time: c.Time, Analyzer: c.Analyzer, Hash: c.Hash, StableHash: c.StableHash, Verdict: c.Verdict.Verdict, Value: c.Verdict.Value,
		P99Seconds: c.Verdict.P99, Requests: c.Verdict.Requests, Explanation: c.Verdict.Explanation, Error: c.Error,
		Shadow: c.Shadow, Category: c.Verdict.Category, AI: c.Verdict.AI,
	}
}

func (s *Server) loop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ScrapeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ns := range s.active() {
			// Errors are recorded per pod; a failed list is retried next tick.
			_ = s.collect(ctx, ns, HashLabel)
		}
		s.prune()
	}
}

func (s *Server) active() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	var out []string
	for ns, t := range s.lastCall {
		if now.Sub(t) < s.cfg.Idle && s.watched[ns] == 0 {
			out = append(out, ns)
		}
	}
	for ns := range s.watched {
		out = append(out, ns)
	}
	return out
}

// collect lists the namespace's pods matching selector and scrapes them
// all at one time, so that both versions' points of a step line up.
func (s *Server) collect(ctx context.Context, ns, selector string) error {
	pods, err := s.cfg.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", ns, err)
	}
	at := s.cfg.Now()
	snaps := make([]snapshot, len(pods.Items))
	errs := make([]error, len(pods.Items))
	var wg sync.WaitGroup
	for i := range pods.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snaps[i], errs[i] = s.scrape(ctx, &pods.Items[i], at)
		}()
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	tl := s.timelines[ns]
	if tl == nil {
		tl = newTimeline(at)
		s.timelines[ns] = tl
	}
	for i := range pods.Items {
		s.record(tl, &pods.Items[i], at, snaps[i], errs[i])
	}
	tl.last = at
	return nil
}

func (s *Server) scrape(ctx context.Context, pod *corev1.Pod, at time.Time) (snapshot, error) {
	base, err := s.cfg.PodURL(ctx, pod, s.cfg.MetricsPort)
	if err != nil {
		return snapshot{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return snapshot{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.client.Do(req)
	if err != nil {
		return snapshot{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return snapshot{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body, at)
}

// record adds one pod's scrape to its version's point at time at. s.mu held.
func (s *Server) record(tl *timeline, k8sPod *corev1.Pod, at time.Time, snap snapshot, err error) {
	key := k8sPod.Namespace + "/" + k8sPod.Name + "/" + string(k8sPod.UID)
	p := s.pods[key]
	if p == nil {
		p = &pod{ns: k8sPod.Namespace, name: k8sPod.Name, hash: k8sPod.Labels[HashLabel]}
		s.pods[key] = p
	}
	p.seen = at
	p.ready, p.restarts = podReady(k8sPod), 0
	for _, c := range k8sPod.Status.ContainerStatuses {
		p.restarts += c.RestartCount
	}
	if err != nil {
		p.err = err.Error()
		return
	}
	p.err = ""
	if tl.bounds == nil {
		tl.bounds = snap.bounds()
	}
	d, ok := p.delta(snap, tl.bounds, tl.start.Add(-s.cfg.YoungPod))
	if !ok {
		d = analyzer.Point{Buckets: make([]float64, len(tl.bounds))}
	}
	d.Pods = 1
	if p.ready {
		d.Ready = 1
	}
	p.last = &snap
	tl.add(p.hash, at, d)
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// prune forgets pods and points older than Retention, and idle namespaces.
func (s *Server) prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	cutoff := now.Add(-s.cfg.Retention)
	for k, p := range s.pods {
		if p.seen.Before(cutoff) {
			delete(s.pods, k)
		}
	}
	for ns, tl := range s.timelines {
		tl.prune(cutoff)
		last := tl.last
		if c := s.lastCall[ns]; c.After(last) {
			last = c
		}
		if s.watched[ns] == 0 && now.Sub(last) > s.cfg.Idle {
			delete(s.timelines, ns)
		}
	}
	for ns, t := range s.lastCall {
		if now.Sub(t) > s.cfg.Idle {
			delete(s.lastCall, ns)
		}
	}
}

// candidatePods are the hash's pods seen since from, for explanations.
func (s *Server) candidatePods(ns, hash string, from time.Time) []analyzer.Pod {
	var out []analyzer.Pod
	for _, p := range s.pods {
		if p.ns == ns && p.hash == hash && !p.seen.Before(from) {
			out = append(out, analyzer.Pod{Name: p.name, Ready: p.ready, Restarts: p.restarts, ScrapeError: p.err})
		}
	}
	slices.SortFunc(out, func(a, b analyzer.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Analyze asks the query's analyzer for a verdict on the namespace's series
// up to now. Series kept fresh by the background loop are used as they
// stand (what a replay of the trace sees); otherwise the query's pods are
// scraped first.
func (s *Server) Analyze(ctx context.Context, q Query) (Verdict, Input, error) {
	a, ok := s.byName[q.Analyzer]
	if !ok {
		return Verdict{}, Input{}, fmt.Errorf("unknown analyzer %q", q.Analyzer)
	}
	s.mu.Lock()
	now := s.cfg.Now()
	prev, called := s.lastCall[q.Namespace]
	active := s.watched[q.Namespace] > 0 || (called && now.Sub(prev) < s.cfg.Idle)
	s.lastCall[q.Namespace] = now
	tl := s.timelines[q.Namespace]
	// The background loop scrapes active namespaces every interval.
	fresh := s.stop != nil && active && tl != nil && now.Sub(tl.last) < s.cfg.ScrapeInterval*3/2
	s.mu.Unlock()
	if !fresh {
		hashes := []string{q.Hash}
		if q.StableHash != "" && q.StableHash != q.Hash {
			hashes = append(hashes, q.StableHash)
		}
		if err := s.collect(ctx, q.Namespace, fmt.Sprintf("%s in (%s)", HashLabel, strings.Join(hashes, ","))); err != nil {
			return Verdict{}, Input{}, err
		}
	}
	s.mu.Lock()
	to := s.cfg.Now()
	in := s.timelines[q.Namespace].input(to, q.Hash, q.StableHash, q.Params)
	in.Step = s.cfg.ScrapeInterval.Seconds()
	in.Pods = s.candidatePods(q.Namespace, q.Hash, to.Add(-in.Params.Window))
	if c := s.chaos[q.Namespace]; c != results.ChaosNone {
		in.Params.Chaos = c // an analysisPath fault overrides the scenario's
	}
	s.mu.Unlock()
	if s.readsContext(q.Analyzer) {
		in.Context = s.readContext(ctx, q, in.Now)
		s.mu.Lock()
		if tl := s.timelines[q.Namespace]; tl != nil {
			tl.contexts = append(tl.contexts, in.Context)
		}
		s.mu.Unlock()
	} else {
		in.Context = analyzer.Unknown
	}
	v, err := a.Analyze(ctx, in)
	return v, in, err
}

// SetChaos injects chaos on the external analyzers' calls for the
// namespace, overriding the query's, until set to none.
func (s *Server) SetChaos(namespace string, c results.Chaos) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == results.ChaosNone {
		delete(s.chaos, namespace)
		return
	}
	s.chaos[namespace] = c
}

// readsContext reports whether a call gated by the named analyzer needs
// the Context: an external analyzer answers it, gating or in shadow.
func (s *Server) readsContext(gating string) bool {
	if IsExternal(gating) {
		return true
	}
	if s.cfg.ShadowExternal {
		for _, a := range s.analyzers {
			if IsExternal(a.Name()) {
				return true
			}
		}
	}
	return false
}

// shadow asks every analyzer but the gating one about the same input
// (external ones only with ShadowExternal).
func (s *Server) shadow(ctx context.Context, gating string, in Input) []results.ShadowAnswer {
	out := []results.ShadowAnswer{}
	for _, a := range s.analyzers {
		if a.Name() == gating || (IsExternal(a.Name()) && !s.cfg.ShadowExternal) {
			continue
		}
		v, err := a.Analyze(ctx, in)
		if err != nil {
			v = Verdict{Explanation: "error: " + err.Error()}
		}
		v = finite(v)
		out = append(out, results.ShadowAnswer{Analyzer: a.Name(), Verdict: v.Verdict, Value: v.Value, Explanation: v.Explanation,
			Category: v.Category, AI: v.AI})
	}
	return out
}

// Trace is the namespace's analysis trace for the two hashes: every point
// of both versions and the time of every /analyze call, which is what the
// analyzers saw. The caller names it and fills in the ground truth.
func (s *Server) Trace(namespace, candidate, stable string) (*analyzer.Trace, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tl := s.timelines[namespace]
	if tl == nil {
		return nil, false
	}
	t := &analyzer.Trace{
		Version: analyzer.TraceVersion, Source: analyzer.SourceRecorded, Start: tl.start,
		Step: s.cfg.ScrapeInterval.Seconds(), Bounds: slices.Clone(tl.bounds),
		Candidate: slices.Clone(tl.points[candidate]), Stable: slices.Clone(tl.points[stable]),
		Analyses: slices.Clone(tl.calls), Contexts: slices.Clone(tl.contexts), Params: s.cfg.Defaults,
	}
	for _, c := range s.calls {
		if c.Namespace == namespace && c.Status == http.StatusOK {
			t.Params = c.Params
			break
		}
	}
	return t, true
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, A2APrefix) {
		s.serveA2A(w, r)
		return
	}
	if r.URL.Path != "/analyze" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET"})
		return
	}
	q, err := s.parseQuery(r)
	call := s.call(r.Context(), q, err)
	// Argo's web provider turns anything but 2xx into a measurement Error.
	if call.Status != http.StatusOK {
		writeJSON(w, call.Status, map[string]string{"error": call.Error})
		return
	}
	writeJSON(w, http.StatusOK, call.Verdict)
}

// call answers a parsed query (or records why it could not be parsed),
// asks the other analyzers in shadow, and keeps the call.
func (s *Server) call(ctx context.Context, q Query, parseErr error) Call {
	start := s.cfg.Now()
	call := Call{Time: start, Query: q}
	if parseErr != nil {
		call.Status, call.Error = http.StatusBadRequest, parseErr.Error()
	} else {
		v, in, err := s.Analyze(ctx, q)
		call.Candidates, call.Now = len(in.Pods), in.Now
		if err != nil {
			call.Status, call.Error = http.StatusInternalServerError, err.Error()
		} else {
			call.Status, call.Verdict = http.StatusOK, finite(v)
			call.Shadow = s.shadow(ctx, q.Analyzer, in)
		}
	}
	call.Duration = s.cfg.Now().Sub(start)
	s.mu.Lock()
	s.calls = append(s.calls, call)
	if tl := s.timelines[call.Namespace]; tl != nil && call.Status == http.StatusOK {
		tl.calls = append(tl.calls, call.Now)
	}
	s.mu.Unlock()
	if s.cfg.OnCall != nil {
		s.cfg.OnCall(call)
	}
	return call
}

// finite keeps NaN and infinities, which JSON cannot carry, out of answers.
func finite(v Verdict) Verdict {
	for _, f := range []*float64{&v.Value, &v.P99, &v.Requests, &v.Confidence, &v.Cost} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = 0
		}
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// parseQuery validates the query; errors name the parameter.
func (s *Server) parseQuery(r *http.Request) (Query, error) {
	v := r.URL.Query()
	q := Query{
		Namespace: v.Get("namespace"), Hash: v.Get("hash"), StableHash: v.Get("stableHash"),
		Analyzer: v.Get("analyzer"), Params: s.cfg.Defaults,
	}
	bad := func(param, format string, args ...any) (Query, error) {
		return q, fmt.Errorf("query parameter %q: %s", param, fmt.Sprintf(format, args...))
	}
	for _, p := range []struct {
		name, val string
		required  bool
	}{{"namespace", q.Namespace, true}, {"hash", q.Hash, true}, {"stableHash", q.StableHash, false}} {
		switch {
		case p.val == "" && p.required:
			return bad(p.name, "required")
		case p.name == "namespace" && len(validation.IsDNS1123Label(p.val)) > 0:
			return bad(p.name, "%q is not a namespace name", p.val)
		case p.name != "namespace" && len(validation.IsValidLabelValue(p.val)) > 0:
			// Hashes go into a label selector: nothing else may.
			return bad(p.name, "%q is not a pod-template hash", p.val)
		}
	}
	if q.Analyzer == "" {
		return bad("analyzer", "required")
	}
	if _, ok := s.byName[q.Analyzer]; !ok {
		return bad("analyzer", "unknown analyzer %q (known: %s)", q.Analyzer, strings.Join(s.Analyzers(), ", "))
	}
	for _, f := range []struct {
		name     string
		dst      *float64
		min, max float64
		open     bool // min itself is refused
	}{
		{"maxErrorRate", &q.MaxErrorRate, 0, 1, false},
		{"confidence", &q.Confidence, 0, 1, true},
		{"tolerance", &q.Tolerance, 0, 10, false},
		{"passScore", &q.PassScore, 0, 100, false},
		{"marginalScore", &q.MarginalScore, 0, 100, false},
		{"alpha", &q.Alpha, 0, 0.5, true},
		{"beta", &q.Beta, 0, 0.5, true},
		{"effectSize", &q.EffectSize, 0, 1, true},
	} {
		x := v.Get(f.name)
		if x == "" {
			continue
		}
		n, err := strconv.ParseFloat(x, 64)
		if err != nil || n < f.min || n > f.max || (f.open && n == f.min) {
			return bad(f.name, "%q is not a number in %s", x, interval(f.min, f.max, f.open))
		}
		*f.dst = n
	}
	if q.MarginalScore > q.PassScore {
		return bad("marginalScore", "%v is above passScore %v", q.MarginalScore, q.PassScore)
	}
	if x := v.Get("maxP99"); x != "" {
		d, err := parseDuration(x)
		if err != nil || d < 0 {
			return bad("maxP99", "%q is not a duration >= 0", x)
		}
		q.MaxP99 = d
	}
	if x := v.Get("window"); x != "" {
		d, err := parseDuration(x)
		if err != nil || d <= 0 {
			return bad("window", "%q is not a positive duration", x)
		}
		q.Window = d
	}
	if q.Window > s.cfg.Retention {
		return bad("window", "%v is longer than the %v of history kept", q.Window, s.cfg.Retention)
	}
	if x := v.Get("scrapeInterval"); x != "" {
		d, err := parseDuration(x)
		if err != nil || d <= 0 {
			return bad("scrapeInterval", "%q is not a positive duration", x)
		}
		q.ScrapeInterval = d
	}
	if x := v.Get("budget"); x != "" {
		d, err := parseDuration(x)
		if err != nil || d <= 0 {
			return bad("budget", "%q is not a positive duration", x)
		}
		q.Budget = d
	}
	if x := v.Get("policy"); x != "" {
		if !slices.Contains(results.Policies(), results.FailurePolicy(x)) {
			return bad("policy", "%q is none of %v", x, results.Policies())
		}
		q.Policy = results.FailurePolicy(x)
	}
	if x := v.Get("chaos"); x != "" {
		if !slices.Contains(results.ChaosModes(), results.Chaos(x)) {
			return bad("chaos", "%q is none of %v", x, results.ChaosModes())
		}
		q.Chaos = results.Chaos(x)
	}
	if x := v.Get("minRequests"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 {
			return bad("minRequests", "%q is not a positive integer", x)
		}
		q.MinRequests = n
	}
	return q, nil
}

func interval(lo, hi float64, open bool) string {
	if open {
		return fmt.Sprintf("(%g,%g]", lo, hi)
	}
	return fmt.Sprintf("[%g,%g]", lo, hi)
}

// parseDuration takes a Go duration or a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}
