package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/blastradius/blastradius/loadgen"
)

// Member is one worker of a fleet: its name (the pod's, as on its records)
// and the base URL the harness reaches its API at.
type Member struct {
	Name, URL string
}

// Load is the whole load a fleet shares, and how the fleet reports it.
type Load struct {
	URL       string
	Profile   loadgen.Profile
	Users     int
	Seed      int64
	KeepAlive bool
	Timeout   time.Duration
	SLO       time.Duration
	Headers   http.Header
	Cohort    *loadgen.Cohort
	// MaxDuration stops the workers on their own after this long, should
	// the harness be gone; required.
	MaxDuration time.Duration
	// Lead is how far ahead of the attack's dispatch the shared start is
	// (default 1s): long enough for every worker to get its attack first.
	Lead time.Duration
	// LostAfter declares a worker lost once its API has not answered for
	// this long (default 10s).
	LostAfter time.Duration

	// Records receives the merged records, NDJSON, in arrival order.
	Records io.Writer
	// OnSecond is called with each second of the merged series as it is
	// finalized (every worker still sending has passed it).
	OnSecond func(loadgen.Second)

	// Client reaches the workers (default: a client without a timeout, as
	// record streams are long).
	Client *http.Client
}

// Report is what became of one worker.
type Report struct {
	Name  string  `json:"name"`
	Share float64 `json:"share"` // of the rate and of the users
	// Records is how many of its records reached the harness.
	Records int64 `json:"records"`
	// Complete: the worker finished and every record it sent arrived.
	Complete  bool      `json:"complete"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	LateStart bool      `json:"lateStart,omitempty"`
	// Lost is when the worker stopped answering: its share of the load
	// from then on was not measured (nor, perhaps, sent).
	Lost  time.Time `json:"lost,omitzero"`
	Error string    `json:"error,omitempty"`
	// Sent is the worker's own count of its requests, when it could say.
	Sent *int64 `json:"sent,omitempty"`
}

// Fleet is a load running on several workers.
type Fleet struct {
	load    Load
	members []Member
	client  *http.Client
	start   time.Time
	merger  *loadgen.Merger
	cancel  context.CancelFunc

	incoming chan incoming
	merged   chan struct{} // closed when the merge loop is over
	streams  sync.WaitGroup

	mu      sync.Mutex
	reports []Report
	stopAt  time.Time
	werr    error // writing the records failed
}

type incoming struct {
	source int
	rec    loadgen.Record
	done   bool // the source sends no more
}

// Start gives every member its shard of the load, all starting at one
// moment Lead from now, and begins collecting their records. Members must
// be serving (GET /healthz answered).
func Start(ctx context.Context, members []Member, l Load) (*Fleet, error) {
	if len(members) == 0 {
		return nil, errors.New("load workers: none")
	}
	if l.MaxDuration <= 0 {
		return nil, errors.New("load workers: MaxDuration must be > 0")
	}
	if l.Lead <= 0 {
		l.Lead = time.Second
	}
	if l.LostAfter <= 0 {
		l.LostAfter = 10 * time.Second
	}
	client := l.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{Proxy: nil}}
	}
	// Validated once here, as the whole load: each shard is then valid.
	whole := loadgen.Config{URL: l.URL, Profile: l.Profile, Users: l.Users, Timeout: l.Timeout, SLO: l.SLO}
	if err := whole.Validate(); err != nil {
		return nil, fmt.Errorf("load workers: %w", err)
	}
	if l.Users == 0 {
		l.Users = loadgen.DefaultUsers
	}
	if l.Users < len(members) {
		return nil, fmt.Errorf("load workers: %d users cannot be split over %d workers", l.Users, len(members))
	}
	f := &Fleet{load: l, members: members, client: client, start: time.Now().Add(l.Lead),
		incoming: make(chan incoming, 4096), merged: make(chan struct{})}
	f.merger = loadgen.NewMerger(f.start, l.Profile, l.Users, len(members))
	f.reports = make([]Report, len(members))
	shards := loadgen.Split(len(members))
	for i, m := range members {
		f.reports[i] = Report{Name: m.Name, Share: shards[i].Weight(l.Users)}
	}
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			a := Attack{URL: l.URL, Profile: l.Profile, Users: l.Users, Seed: l.Seed, Shard: shards[i],
				KeepAlive: l.KeepAlive, Timeout: l.Timeout, SLO: l.SLO, Headers: l.Headers, Cohort: l.Cohort,
				StartAt: f.start, MaxDuration: l.MaxDuration}
			errs[i] = f.post(ctx, m, "/attack", a, http.StatusAccepted)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.stopAll(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("load workers: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	go f.merge()
	for i := range members {
		f.streams.Go(func() { f.stream(sctx, i) })
	}
	go func() {
		f.streams.Wait()
		close(f.incoming)
	}()
	return f, nil
}

// StartAt is the moment every worker was told to start.
func (f *Fleet) StartAt() time.Time { return f.start }

// SetRateFactor multiplies the rate on every worker from now on.
func (f *Fleet) SetRateFactor(x float64) {
	f.each(func(i int, m Member) {
		if err := f.post(context.Background(), m, "/rate", rateRequest{Factor: x}, http.StatusNoContent); err != nil {
			f.note(i, err)
		}
	})
}

// Stop tells every worker to stop sending; Wait for their last records.
func (f *Fleet) Stop() {
	f.mu.Lock()
	if f.stopAt.IsZero() {
		f.stopAt = time.Now()
	}
	f.mu.Unlock()
	f.stopAll(context.Background())
}

// Wait waits until every worker's stream is complete or the worker lost,
// and returns the merged summary and what became of each worker. The error
// reports records that could not be written; lost workers are not errors,
// they are in the reports.
func (f *Fleet) Wait() (*loadgen.Summary, []Report, error) {
	<-f.merged
	f.cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	elapsed := max(f.stopAt.Sub(f.start), f.merger.SentUntil(), 0)
	if f.stopAt.IsZero() {
		elapsed = f.merger.SentUntil()
	}
	sum := f.merger.Summary(elapsed)
	var err error
	if f.werr != nil {
		err = fmt.Errorf("load workers: writing records: %w", f.werr)
	}
	return sum, append([]Report(nil), f.reports...), err
}

func (f *Fleet) stopAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f.each(func(i int, m Member) {
		if err := f.post(ctx, m, "/stop", nil, http.StatusNoContent); err != nil {
			f.note(i, err)
		}
	})
}

func (f *Fleet) each(fn func(int, Member)) {
	var wg sync.WaitGroup
	for i, m := range f.members {
		wg.Go(func() { fn(i, m) })
	}
	wg.Wait()
}

// note keeps a worker's first error for its report.
func (f *Fleet) note(i int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reports[i].Error == "" {
		f.reports[i].Error = err.Error()
	}
}

func (f *Fleet) post(ctx context.Context, m Member, path string, body any, want int) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("worker %s: POST %s: %w", m.Name, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("worker %s: POST %s: %s: %s", m.Name, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// merge folds every worker's records into the summary and the records
// file, one goroutine, in arrival order.
func (f *Fleet) merge() {
	defer close(f.merged)
	var rw *loadgen.RecordWriter
	if f.load.Records != nil {
		rw = loadgen.NewRecordWriter(f.load.Records)
	}
	emit := func(secs []loadgen.Second) {
		if f.load.OnSecond != nil {
			for _, s := range secs {
				f.load.OnSecond(s)
			}
		}
	}
	var werr error
	for in := range f.incoming {
		if in.done {
			emit(f.merger.Done(in.source))
			continue
		}
		if rw != nil && werr == nil {
			werr = rw.Write(&in.rec)
		}
		emit(f.merger.Add(in.source, &in.rec))
	}
	emit(f.merger.Finish())
	if rw != nil && werr == nil {
		werr = rw.Flush()
	}
	f.mu.Lock()
	f.werr = werr
	f.mu.Unlock()
}

// stream reads worker i's records until it has them all or the worker is
// lost, resuming after any break from the first record it lacks.
func (f *Fleet) stream(ctx context.Context, i int) {
	m := f.members[i]
	var received int64
	lastHeard := time.Now()
	defer func() { f.incoming <- incoming{source: i, done: true} }()
	for ctx.Err() == nil {
		n, connected, err := f.readRecords(ctx, i, received)
		received += n
		if connected {
			lastHeard = time.Now()
		}
		f.mu.Lock()
		f.reports[i].Records = received
		f.mu.Unlock()
		if err == nil {
			// A clean end: the worker is done if it says so and we have
			// every record it spooled.
			st, serr := f.status(ctx, m)
			if serr == nil {
				lastHeard = time.Now()
				if st.State == StateDone && st.Records == received {
					f.finished(i, st, received)
					return
				}
			}
		}
		if time.Since(lastHeard) > f.load.LostAfter {
			f.lost(i, lastHeard, err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readRecords reads one stream from record from on and returns how many
// whole records it delivered and whether the worker answered at all; nil
// error means the stream ended cleanly.
func (f *Fleet) readRecords(ctx context.Context, i int, from int64) (int64, bool, error) {
	n, err := f.readStream(ctx, i, from)
	return n, !errors.Is(err, errUnreachable), err
}

var errUnreachable = errors.New("unreachable")

func (f *Fleet) readStream(ctx context.Context, i int, from int64) (int64, error) {
	m := f.members[i]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/records?from=%d", m.URL, from), nil)
	if err != nil {
		return 0, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		// Answering, but not with our attack's records (a restarted
		// worker has none): as good as unreachable.
		return 0, fmt.Errorf("%w: GET /records: %s: %s", errUnreachable, resp.Status, strings.TrimSpace(string(msg)))
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return n, fmt.Errorf("GET /records: a record longer than %d bytes", br.Size())
		}
		if err != nil {
			// A line cut short by a break is not a record: it comes
			// again from the next stream.
			if err == io.EOF && len(line) == 0 {
				return n, nil
			}
			return n, err
		}
		var rec loadgen.Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return n, fmt.Errorf("GET /records: record %d: %w", from+n, err)
		}
		select {
		case f.incoming <- incoming{source: i, rec: rec}:
		case <-ctx.Done():
			return n, ctx.Err()
		}
		n++
	}
}

func (f *Fleet) status(ctx context.Context, m Member) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (f *Fleet) finished(i int, st Status, received int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &f.reports[i]
	r.Complete = st.Error == ""
	r.StartedAt, r.LateStart = st.StartedAt, st.LateStart
	if st.Error != "" {
		r.Error = st.Error
	}
	if st.Summary != nil {
		sent := st.Summary.Total
		r.Sent = &sent
		if sent != received {
			r.Complete = false
			r.Error = fmt.Sprintf("it counted %d requests, its stream had %d", sent, received)
		}
	}
}

func (f *Fleet) lost(i int, at time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &f.reports[i]
	r.Lost = at
	if err != nil && r.Error == "" {
		r.Error = err.Error()
	}
	if r.Error == "" {
		r.Error = "stopped answering"
	}
}
