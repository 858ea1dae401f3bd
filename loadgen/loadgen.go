// Package loadgen drives HTTP load at a target whose versions answer with an
// X-Version header, and scores every request as it streams in.
//
// It is a library over vegeta's attacker and pacers: a Profile yields the
// vegeta.Pacer; N synthetic users each send their requests with an X-User
// header; every result becomes a Record (send time, latency, status, transport
// error, serving version, user) that is folded into per-version totals and a
// per-second time series without keeping records in memory, and optionally
// written to disk as NDJSON.
//
// A request failed when it got no response, a 5xx status, or (with an SLO)
// a latency above the SLO. Responses without X-Version and transport errors
// are unattributed. Total always equals the sum over versions plus
// unattributed.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults for zero Config fields.
const (
	DefaultUsers      = 100
	DefaultTimeout    = 10 * time.Second
	DefaultWorkers    = 10
	DefaultMaxWorkers = 1024
	// MaxUsers bounds Config.Users (each user's URL and headers are built
	// once, up front).
	MaxUsers = 100_000
)

// Config describes a run.
type Config struct {
	// URL is the target; every request is a GET to it. It must not carry a
	// fragment.
	URL string
	// Profile sets the request rate over time.
	Profile Profile
	// Duration is how long to send; 0 sends until the context is cancelled or
	// Stop is called (not allowed with a linear profile).
	Duration time.Duration
	// Users is the number of synthetic users (default DefaultUsers). Each
	// request carries "X-User: user-NNNN" for a user drawn by a generator
	// seeded with Seed.
	Users int
	Seed  int64
	// KeepAlive reuses connections. The default (false) opens a new
	// connection per request, which per-connection balancing such as
	// kube-proxy's needs for a fair split.
	KeepAlive bool
	// Timeout bounds each request, including reading the response
	// (default DefaultTimeout).
	Timeout time.Duration
	// Workers is the initial number of workers (default DefaultWorkers) and
	// MaxWorkers the most there will be (default DefaultMaxWorkers). Each
	// worker has one request in flight; once all are busy, requests wait, so
	// above capacity the achieved rate falls below the requested one instead
	// of piling up until everything times out.
	Workers    uint64
	MaxWorkers uint64
	// SLO, when > 0, also counts responses slower than it as failures.
	SLO time.Duration
	// Headers are added to every request.
	Headers http.Header
	// Cohort, when set, marks a share of the users: their every request
	// carries its header (a dark launch's internal users, say).
	Cohort *Cohort
	// Records, when set, receives one NDJSON line per request as results
	// stream in (buffered; see RecordWriter).
	Records io.Writer
	// OnSecond, when set, is called with each second of the series as it is
	// finalized, from the goroutine consuming results: keep it quick, and
	// treat the Second as read-only.
	OnSecond func(Second)
	// Shard, when set, makes this generator one of Shard.Count that share
	// one load between them: see Shard.
	Shard *Shard
	// OnRecord, when set, is called with every record as it streams in,
	// from the goroutine consuming results (a live view draws each
	// request): keep it quick, and do not keep the pointer.
	OnRecord func(*Record)
}

// Validate reports whether cfg describes a valid run. Errors are
// *FieldError values naming the offending setting.
func (cfg Config) Validate() error {
	_, err := cfg.withDefaults()
	return err
}

// withDefaults validates cfg and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		return cfg, fieldErr("url", "is required")
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		return cfg, fieldErr("url", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return cfg, fieldErr("url", "scheme must be http or https (got %q)", cfg.URL)
	case u.Host == "":
		return cfg, fieldErr("url", "has no host (got %q)", cfg.URL)
	case strings.Contains(cfg.URL, "#"):
		return cfg, fieldErr("url", "must not have a fragment (got %q)", cfg.URL)
	}
	if err := cfg.Profile.Validate(cfg.Duration); err != nil {
		return cfg, err
	}
	switch {
	case cfg.Users == 0:
		cfg.Users = DefaultUsers
	case cfg.Users < 0 || cfg.Users > MaxUsers:
		return cfg, fieldErr("users", "must be between 1 and %d (got %d)", MaxUsers, cfg.Users)
	}
	switch {
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	case cfg.Timeout < 0:
		return cfg, fieldErr("timeout", "must be > 0 (got %s)", cfg.Timeout)
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = DefaultMaxWorkers
	}
	if cfg.Workers == 0 {
		cfg.Workers = min(DefaultWorkers, cfg.MaxWorkers)
	}
	if cfg.Workers > cfg.MaxWorkers {
		return cfg, fieldErr("workers", "must be <= max-workers %d (got %d)", cfg.MaxWorkers, cfg.Workers)
	}
	if cfg.SLO < 0 {
		return cfg, fieldErr("slo", "must be >= 0 (got %s)", cfg.SLO)
	}
	if sh := cfg.Shard; sh != nil {
		switch {
		case sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count:
			return cfg, fieldErr("shard", "index %d of %d: want 0 <= index < count", sh.Index, sh.Count)
		case cfg.Users < sh.Count:
			return cfg, fieldErr("shard", "%d users cannot be split over %d generators", cfg.Users, sh.Count)
		}
	}
	return cfg, nil
}

// Generator runs one attack. Start it, then Wait for the Summary; Snapshot
// gives the numbers so far at any time, from any goroutine.
type Generator struct {
	cfg      Config
	profile  Profile // what this generator sends: its shard's share
	pacer    *scaledPacer
	users    *users
	conns    *connTracker
	tr       *http.Transport
	attacker *vegeta.Attacker

	aborted  atomic.Bool
	finished chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex
	started bool
	t0      time.Time
	agg     *aggregator
	stopped bool
	stopAt  time.Duration // since t0, once stopped
	elapsed time.Duration // final attack window, once finished
	err     error
}

// New validates cfg and prepares a Generator.
func New(cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.Profile.Validate(cfg.Duration); err != nil {
		return nil, err
	}
	pacer := newScaledPacer(cfg.Profile, cfg.Duration)
	profile := cfg.Profile
	if sh := cfg.Shard; sh != nil {
		w := sh.Weight(cfg.Users)
		pacer.shard(w, sh.phase())
		profile = profile.Times(w)
	}
	conns := newConnTracker(cfg.KeepAlive, cfg.Timeout)
	tr := &http.Transport{
		Proxy:               nil, // straight to the target, whatever HTTP_PROXY says
		DialContext:         conns.dial,
		DisableKeepAlives:   !cfg.KeepAlive,
		DisableCompression:  true, // bodies are discarded unread
		MaxIdleConnsPerHost: int(min(cfg.MaxWorkers, 10000)),
		TLSHandshakeTimeout: cfg.Timeout,
	}
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	g := &Generator{
		cfg:      cfg,
		pacer:    pacer,
		profile:  profile,
		users:    newUsers(cfg.Users, cfg.Seed, cfg.URL, cfg.Headers, cfg.Cohort, cfg.Shard),
		conns:    conns,
		tr:       tr,
		finished: make(chan struct{}),
		attacker: vegeta.NewAttacker(
			vegeta.Client(client),
			vegeta.Workers(cfg.Workers),
			vegeta.MaxWorkers(cfg.MaxWorkers),
			vegeta.MaxBody(0), // drain, don't keep, response bodies
		),
	}
	return g, nil
}

// Run runs an attack to completion (or until ctx is cancelled) and returns
// its summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := g.Start(ctx); err != nil {
		return nil, err
	}
	return g.Wait()
}

// Start begins the attack. Cancelling ctx stops it promptly: no new requests
// are sent and those in flight are cut short (and counted as aborted, not as
// failures).
func (g *Generator) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		return errors.New("loadgen: generator already started")
	}
	g.started = true
	g.t0 = time.Now()
	g.agg = newAggregator(g.t0, g.profile, g.cfg.Duration, g.cfg.Users)
	results := g.attacker.Attack(g.users.targeter(), g.pacer, g.cfg.Duration, "")
	g.wg.Add(2)
	go g.consume(results)
	go func() {
		defer g.wg.Done()
		select {
		case <-ctx.Done():
			g.abort()
		case <-g.finished:
		}
	}()
	return nil
}

// SetRateFactor multiplies the profile's rate from now on (1 restores it):
// a traffic spike above 1, a drop below. It is safe to call at any time.
func (g *Generator) SetRateFactor(f float64) {
	g.mu.Lock()
	t0, started := g.t0, g.started
	g.mu.Unlock()
	if f < 0 {
		f = 0
	}
	var elapsed time.Duration
	if started {
		elapsed = time.Since(t0)
	}
	g.pacer.setFactor(elapsed, f)
}

// Stop stops sending; requests in flight complete normally. It returns at
// once; Wait for the summary. Before Start it does nothing.
func (g *Generator) Stop() {
	if g.markStopped() {
		g.attacker.Stop()
	}
}

func (g *Generator) abort() {
	g.aborted.Store(true)
	g.Stop()
	g.conns.closeAll()
}

// markStopped records when the run was first stopped; it reports whether
// the run has started.
func (g *Generator) markStopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started && !g.stopped {
		g.stopped = true
		g.stopAt = time.Since(g.t0)
	}
	return g.started
}

// Done is closed when the run is over.
func (g *Generator) Done() <-chan struct{} { return g.finished }

// Wait waits for the run to end and returns its summary. The error reports a
// run that never started or failed records output; the summary is still
// returned in the latter case.
func (g *Generator) Wait() (*Summary, error) {
	g.mu.Lock()
	started := g.started
	g.mu.Unlock()
	if !started {
		return nil, errors.New("loadgen: generator not started")
	}
	<-g.finished
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.agg.summary(g.elapsed), g.err
}

// Snapshot returns the numbers so far: totals over everything received and
// the seconds finalized so far. It is safe for concurrent use.
func (g *Generator) Snapshot() *Summary {
	g.mu.Lock()
	agg := g.agg
	elapsed := g.windowLocked(time.Since(g.t0))
	select {
	case <-g.finished:
		elapsed = g.elapsed
	default:
	}
	g.mu.Unlock()
	if agg == nil {
		return &Summary{Versions: map[string]*VersionStats{}, Users: g.cfg.Users}
	}
	return agg.summary(elapsed)
}

// windowLocked is the attack window at elapsed since the start: sending
// stops at the configured duration or when the run is stopped, though
// requests already paced may still go out just after a stop.
func (g *Generator) windowLocked(elapsed time.Duration) time.Duration {
	if g.stopped {
		elapsed = min(elapsed, g.stopAt)
	}
	if g.cfg.Duration > 0 {
		elapsed = min(elapsed, g.cfg.Duration)
	}
	if g.agg != nil {
		elapsed = max(elapsed, g.agg.sentUntil())
	}
	return elapsed
}

// consume is the single goroutine reading results: it turns each into a
// record, writes it and folds it into the aggregates.
func (g *Generator) consume(results <-chan *vegeta.Result) {
	defer g.wg.Done()
	var (
		rw   *RecordWriter
		werr error
	)
	if g.cfg.Records != nil {
		rw = NewRecordWriter(g.cfg.Records)
	}
	emit := func(secs []Second) {
		if g.cfg.OnSecond != nil {
			for _, s := range secs {
				g.cfg.OnSecond(s)
			}
		}
	}
	for res := range results {
		rec := newRecord(res, g.cfg.SLO, g.aborted.Load())
		if rw != nil && werr == nil {
			if werr = rw.Write(&rec); werr != nil {
				g.Stop() // the records would be incomplete: don't waste the run
			}
		}
		if g.cfg.OnRecord != nil {
			g.cfg.OnRecord(&rec)
		}
		if secs := g.agg.add(&rec); len(secs) > 0 {
			emit(secs)
		}
	}
	end := time.Since(g.t0)
	emit(g.agg.finish())
	if rw != nil && werr == nil {
		werr = rw.Flush()
	}
	g.tr.CloseIdleConnections()
	g.conns.release()

	g.mu.Lock()
	g.elapsed = g.windowLocked(end)
	if werr != nil {
		g.err = fmt.Errorf("loadgen: writing records: %w", werr)
	}
	g.mu.Unlock()
	close(g.finished)
}

var errAborted = errors.New("loadgen: run cancelled")

// connTracker dials the connections of a run and can close them all at once,
// which cuts requests in flight short when the run is cancelled (vegeta's
// requests carry no context of ours).
type connTracker struct {
	dialer net.Dialer
	ctx    context.Context // cancelled by closeAll: aborts dials in progress
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func newConnTracker(keepAlive bool, timeout time.Duration) *connTracker {
	ctx, cancel := context.WithCancel(context.Background())
	t := &connTracker{
		dialer: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*trackedConn]struct{}),
	}
	if !keepAlive {
		t.dialer.KeepAlive = -1 // short-lived connections need no TCP keep-alive probes
	}
	return t
}

func (t *connTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.ctx.Err() != nil {
		return nil, errAborted
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.ctx, cancel)
	c, err := t.dialer.DialContext(ctx, network, addr)
	stop()
	cancel()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.Close()
		return nil, errAborted
	}
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}

// closeAll closes every connection, idle or busy, and refuses new ones.
func (t *connTracker) closeAll() {
	t.cancel()
	t.mu.Lock()
	t.closed = true
	conns := t.conns
	t.conns = make(map[*trackedConn]struct{})
	t.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// release frees the tracker's context once the run is over.
func (t *connTracker) release() { t.cancel() }

type trackedConn struct {
	net.Conn
	t    *connTracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return err
}
