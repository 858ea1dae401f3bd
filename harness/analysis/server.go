package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"k8s.io/client-go/kubernetes"

	"github.com/blastradius/blastradius/harness/results"
)

// Config configures a Server. Only Client is required.
type Config struct {
	Client kubernetes.Interface
	// PodURL is the base URL of a pod's port as the harness reaches it; the
	// platform knows. Default: http://<podIP>:<port>.
	PodURL      func(ctx context.Context, pod *corev1.Pod, port int) (string, error)
	MetricsPort int // default 8080
	// Analyzers served by name; default one of each in the catalog.
	Analyzers []Analyzer
	// Defaults fill in thresholds a query leaves out; default DefaultThresholds.
	Defaults Thresholds
	// ScrapeInterval is how often pods of active namespaces are scraped
	// (once Start runs): namespaces with a call in the last Idle, and
	// watched ones. Default 1s.
	ScrapeInterval time.Duration
	ScrapeTimeout  time.Duration // per scrape; default 2s
	Idle           time.Duration // default 2m
	// Retention is how much history is kept, and so the longest window.
	// Default 10m.
	Retention time.Duration
	Addr      string           // Start's listen address; default 127.0.0.1:0
	OnCall    func(Call)       // after each /analyze call, before answering: keep it quick
	Now       func() time.Time // default time.Now
}

// Query is one /analyze request.
type Query struct {
	Namespace, Hash, StableHash, Analyzer string
	Thresholds
}

// Call records one /analyze request and its outcome.
type Call struct {
	Time time.Time
	Query
	Candidates int     // candidate pods in the window
	Verdict    Verdict // zero unless Status is 200
	Status     int     // HTTP status answered
	Error      string
	Duration   time.Duration
}

// Server is the analysis endpoint: GET /analyze?namespace=&hash=&stableHash=
// &analyzer=[&maxErrorRate=&maxP99=&window=&minRequests=] answers a JSON
// Verdict. Durations are Go durations ("500ms") or seconds.
type Server struct {
	cfg       Config
	analyzers map[string]Analyzer
	client    *http.Client

	mu       sync.Mutex
	series   map[string]*series   // by namespace/pod/uid
	lastCall map[string]time.Time // namespace → last /analyze call
	watched  map[string]int       // namespace → Watch count
	calls    []Call

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
		cfg.Analyzers = All()
	}
	if cfg.Defaults.Window == 0 {
		cfg.Defaults = DefaultThresholds
	}
	cfg.ScrapeInterval = cmpOr(cfg.ScrapeInterval, time.Second)
	cfg.ScrapeTimeout = cmpOr(cfg.ScrapeTimeout, 2*time.Second)
	cfg.Idle = cmpOr(cfg.Idle, 2*time.Minute)
	cfg.Retention = cmpOr(cfg.Retention, 10*time.Minute)
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:       cfg,
		analyzers: map[string]Analyzer{},
		client:    &http.Client{Timeout: cfg.ScrapeTimeout},
		series:    map[string]*series{},
		lastCall:  map[string]time.Time{},
		watched:   map[string]int{},
	}
	for _, a := range cfg.Analyzers {
		s.analyzers[a.Name()] = a
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
// a full window of history. The returned func ends the watch.
func (s *Server) Watch(namespace string) (unwatch func()) {
	s.mu.Lock()
	s.watched[namespace]++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.watched[namespace]--; s.watched[namespace] <= 0 {
				delete(s.watched, namespace)
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
func (s *Server) Analyzers() []string {
	names := make([]string, 0, len(s.analyzers))
	for n := range s.analyzers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

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

// Record is the call as results.json keeps it.
func (c Call) Record() results.AnalysisCall {
	return results.AnalysisCall{
		Time: c.Time, Analyzer: c.Analyzer, Hash: c.Hash, Verdict: c.Verdict.Verdict, Value: c.Verdict.Value,
		P99Seconds: c.Verdict.P99, Requests: c.Verdict.Requests, Explanation: c.Verdict.Explanation, Error: c.Error,
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

// collect lists the namespace's pods matching selector and scrapes each.
func (s *Server) collect(ctx context.Context, ns, selector string) error {
	pods, err := s.cfg.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", ns, err)
	}
	var wg sync.WaitGroup
	for i := range pods.Items {
		pod := &pods.Items[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap, err := s.scrape(ctx, pod)
			s.record(pod, snap, err)
		}()
	}
	wg.Wait()
	return nil
}

func (s *Server) scrape(ctx context.Context, pod *corev1.Pod) (snapshot, error) {
	base, err := s.cfg.PodURL(ctx, pod, s.cfg.MetricsPort)
	if err != nil {
		return snapshot{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return snapshot{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	at := s.cfg.Now()
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

func (s *Server) record(pod *corev1.Pod, snap snapshot, err error) {
	key := pod.Namespace + "/" + pod.Name + "/" + string(pod.UID)
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series[key]
	if sr == nil {
		sr = &series{ns: pod.Namespace, pod: pod.Name, hash: pod.Labels[HashLabel]}
		s.series[key] = sr
	}
	sr.seen = s.cfg.Now()
	sr.ready, sr.restarts = podReady(pod), 0
	for _, c := range pod.Status.ContainerStatuses {
		sr.restarts += c.RestartCount
	}
	if err != nil {
		sr.err = err.Error()
		return
	}
	sr.err = ""
	sr.add(snap)
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// prune forgets history older than Retention, pods gone as long, and idle
// namespaces.
func (s *Server) prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.cfg.Now().Add(-s.cfg.Retention)
	for k, sr := range s.series {
		sr.trim(cutoff)
		if sr.seen.Before(cutoff) {
			delete(s.series, k)
		}
	}
	for ns, t := range s.lastCall {
		if s.cfg.Now().Sub(t) > s.cfg.Idle {
			delete(s.lastCall, ns)
		}
	}
}

// samples returns the window's sample of every pod with the hash, including
// pods gone since but scraped within the window.
func (s *Server) samples(ns, hash string, from time.Time, window time.Duration) []PodSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PodSample
	for _, sr := range s.series {
		if sr.ns == ns && sr.hash == hash && (!sr.seen.Before(from) || sr.inSpan(from)) {
			out = append(out, sr.sample(from, window))
		}
	}
	slices.SortFunc(out, func(a, b PodSample) int { return strings.Compare(a.Pod, b.Pod) })
	return out
}

// Analyze scrapes the query's pods now and asks its analyzer for a verdict
// over the window ending now.
func (s *Server) Analyze(ctx context.Context, q Query) (Verdict, Window, error) {
	a, ok := s.analyzers[q.Analyzer]
	if !ok {
		return Verdict{}, Window{}, fmt.Errorf("unknown analyzer %q", q.Analyzer)
	}
	s.mu.Lock()
	s.lastCall[q.Namespace] = s.cfg.Now()
	s.mu.Unlock()

	hashes := []string{q.Hash}
	if q.StableHash != "" && q.StableHash != q.Hash {
		hashes = append(hashes, q.StableHash)
	}
	if err := s.collect(ctx, q.Namespace, fmt.Sprintf("%s in (%s)", HashLabel, strings.Join(hashes, ","))); err != nil {
		return Verdict{}, Window{}, err
	}
	to := s.cfg.Now()
	from := to.Add(-q.Window)
	w := Window{
		Namespace: q.Namespace, CandidateHash: q.Hash, StableHash: q.StableHash,
		Candidate: s.samples(q.Namespace, q.Hash, from, q.Window),
		From:      from, To: to, Thresholds: q.Thresholds,
	}
	if q.StableHash != "" {
		w.Stable = s.samples(q.Namespace, q.StableHash, from, q.Window)
	}
	v, err := a.Analyze(ctx, w)
	return v, w, err
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/analyze" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET"})
		return
	}
	start := s.cfg.Now()
	call := Call{Time: start}
	q, err := s.parseQuery(r)
	call.Query = q
	if err != nil {
		call.Status, call.Error = http.StatusBadRequest, err.Error()
	} else {
		v, win, err := s.Analyze(r.Context(), q)
		call.Candidates = len(win.Candidate)
		if err != nil {
			call.Status, call.Error = http.StatusInternalServerError, err.Error()
		} else {
			call.Status, call.Verdict = http.StatusOK, finite(v)
		}
	}
	call.Duration = s.cfg.Now().Sub(start)
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if s.cfg.OnCall != nil {
		s.cfg.OnCall(call)
	}
	// Argo's web provider turns anything but 2xx into a measurement Error.
	if call.Status != http.StatusOK {
		writeJSON(w, call.Status, map[string]string{"error": call.Error})
		return
	}
	writeJSON(w, http.StatusOK, call.Verdict)
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
		Analyzer: v.Get("analyzer"), Thresholds: s.cfg.Defaults,
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
	if _, ok := s.analyzers[q.Analyzer]; !ok {
		return bad("analyzer", "unknown analyzer %q (known: %s)", q.Analyzer, strings.Join(s.Analyzers(), ", "))
	}
	if x := v.Get("maxErrorRate"); x != "" {
		f, err := strconv.ParseFloat(x, 64)
		if err != nil || f < 0 || f > 1 {
			return bad("maxErrorRate", "%q is not a fraction in [0,1]", x)
		}
		q.MaxErrorRate = f
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
	if x := v.Get("minRequests"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 {
			return bad("minRequests", "%q is not a positive integer", x)
		}
		q.MinRequests = n
	}
	return q, nil
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
