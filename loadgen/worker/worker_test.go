package worker

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/blastradius/blastradius/loadgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// target answers as blue and counts requests per user.
type target struct {
	*httptest.Server
	mu    sync.Mutex
	users map[string]int
}

func newTarget(t *testing.T) *target {
	tg := &target{users: map[string]int{}}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.users[r.Header.Get(loadgen.UserHeader)]++
		tg.mu.Unlock()
		w.Header().Set(loadgen.VersionHeader, "blue")
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) total() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	n := 0
	for _, c := range tg.users {
		n += c
	}
	return n
}

// startWorkers runs n worker servers, each behind wrap (nil: none).
func startWorkers(t *testing.T, n int, wrap func(i int, h http.Handler) http.Handler) ([]Member, []*Server, []*httptest.Server) {
	var members []Member
	var servers []*Server
	var https []*httptest.Server
	for i := range n {
		s := NewServer("load-worker-"+string(rune('a'+i)), t.TempDir())
		h := s.Handler()
		if wrap != nil {
			h = wrap(i, h)
		}
		hs := httptest.NewServer(h)
		t.Cleanup(func() {
			hs.Close()
			s.Close()
		})
		members = append(members, Member{Name: s.name, URL: hs.URL})
		servers = append(servers, s)
		https = append(https, hs)
	}
	return members, servers, https
}

func readAll(t *testing.T, b []byte) []loadgen.Record {
	var out []loadgen.Record
	require.NoError(t, loadgen.ReadRecords(bytes.NewReader(b), func(r loadgen.Record) error {
		out = append(out, r)
		return nil
	}))
	return out
}

// TestFleetSharesOneLoad: three workers start together, send disjoint
// users' requests at shares summing to the rate, and every request they
// sent is in the merged records, once.
func TestFleetSharesOneLoad(t *testing.T) {
	tg := newTarget(t)
	members, _, _ := startWorkers(t, 3, nil)
	var buf bytes.Buffer
	var secs atomic.Int64
	f, err := Start(context.Background(), members, Load{
		URL: tg.URL, Profile: loadgen.ConstantProfile(300), Users: 30, Seed: 4, MaxDuration: time.Minute,
		Lead: 300 * time.Millisecond, Records: &buf, OnSecond: func(loadgen.Second) { secs.Add(1) },
	})
	require.NoError(t, err)
	time.Sleep(time.Until(f.StartAt().Add(1500 * time.Millisecond)))
	f.Stop()
	sum, reports, err := f.Wait()
	require.NoError(t, err)
	require.NoError(t, sum.Reconcile())

	assert.InDelta(t, 300*sum.Elapsed.Seconds(), float64(sum.Total), 0.05*300*sum.Elapsed.Seconds(), "300/s for as long as it ran")
	assert.Equal(t, int64(tg.total()), sum.Total, "every request the target saw is in the summary")
	assert.Zero(t, sum.Duplicates)
	recs := readAll(t, buf.Bytes())
	assert.Len(t, recs, int(sum.Total), "and in the records")
	var shares float64
	var fromReports int64
	for i, r := range reports {
		assert.True(t, r.Complete, "%+v", r)
		require.NotNil(t, r.Sent)
		assert.Equal(t, *r.Sent, r.Records)
		assert.WithinDuration(t, f.StartAt(), r.StartedAt, 500*time.Millisecond, "worker %d started at the barrier", i)
		shares += r.Share
		fromReports += r.Records
	}
	assert.InDelta(t, 1, shares, 1e-12)
	assert.Equal(t, sum.Total, fromReports)
	for _, r := range recs {
		i := strings.IndexByte("abc", r.Worker[len(r.Worker)-1])
		require.Equal(t, i, loadgen.UserIndex(r.User)%3, "worker %s sent for %s", r.Worker, r.User)
	}
	assert.Positive(t, secs.Load(), "seconds were finalized as they came")
}

// TestFleetResumesABrokenStream: a record stream cut in the middle of a
// line resumes from the first record missing; nothing is lost or counted
// twice.
func TestFleetResumesABrokenStream(t *testing.T) {
	tg := newTarget(t)
	var cut atomic.Int32
	members, _, _ := startWorkers(t, 2, func(i int, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if i == 0 && r.URL.Path == "/records" && cut.Add(1) <= 2 {
				h.ServeHTTP(&cutWriter{ResponseWriter: w, left: 1000}, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	var buf bytes.Buffer
	f, err := Start(context.Background(), members, Load{
		URL: tg.URL, Profile: loadgen.ConstantProfile(200), Users: 10, MaxDuration: time.Minute,
		Lead: 200 * time.Millisecond, Records: &buf,
	})
	require.NoError(t, err)
	time.Sleep(time.Until(f.StartAt().Add(time.Second)))
	f.Stop()
	sum, reports, err := f.Wait()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cut.Load(), int32(3), "the stream was cut twice and resumed")
	for _, r := range reports {
		assert.True(t, r.Complete, "%+v", r)
	}
	assert.Equal(t, int64(tg.total()), sum.Total)
	assert.Zero(t, sum.Duplicates)
	assert.Len(t, readAll(t, buf.Bytes()), int(sum.Total))
}

// cutWriter aborts the connection once left bytes are written: most likely
// in the middle of a record.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if len(b) >= c.left {
		_, _ = c.ResponseWriter.Write(b[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= len(b)
	return c.ResponseWriter.Write(b)
}

func (c *cutWriter) Flush() { c.ResponseWriter.(http.Flusher).Flush() }

// TestFleetReportsALostWorker: a worker that dies mid-attack is reported
// lost, with its share and when; what it sent before stays counted and the
// other workers' records are all there.
func TestFleetReportsALostWorker(t *testing.T) {
	tg := newTarget(t)
	members, servers, https := startWorkers(t, 2, nil)
	var buf bytes.Buffer
	f, err := Start(context.Background(), members, Load{
		URL: tg.URL, Profile: loadgen.ConstantProfile(200), Users: 10, MaxDuration: time.Minute,
		Lead: 200 * time.Millisecond, LostAfter: time.Second, Records: &buf,
	})
	require.NoError(t, err)
	time.Sleep(time.Until(f.StartAt().Add(700 * time.Millisecond)))
	https[1].CloseClientConnections()
	https[1].Close()
	servers[1].Close()
	time.Sleep(500 * time.Millisecond)
	f.Stop()
	sum, reports, err := f.Wait()
	require.NoError(t, err)
	require.NoError(t, sum.Reconcile())
	assert.True(t, reports[0].Complete)
	lost := reports[1]
	assert.False(t, lost.Complete)
	assert.False(t, lost.Lost.IsZero(), "%+v", lost)
	assert.NotEmpty(t, lost.Error)
	assert.InDelta(t, 0.5, lost.Share, 1e-12)
	assert.Positive(t, lost.Records, "what it sent before it died still counts")
	assert.Equal(t, reports[0].Records+lost.Records, sum.Total)
	assert.Len(t, readAll(t, buf.Bytes()), int(sum.Total))
}

func TestWorkerRefusesASecondAttackAndBadInput(t *testing.T) {
	tg := newTarget(t)
	members, servers, _ := startWorkers(t, 1, nil)
	f, err := Start(context.Background(), members, Load{URL: tg.URL, Profile: loadgen.ConstantProfile(10), Users: 5,
		MaxDuration: time.Minute, Lead: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = Start(context.Background(), members, Load{URL: tg.URL, Profile: loadgen.ConstantProfile(10), Users: 5,
		MaxDuration: time.Minute})
	require.ErrorContains(t, err, "409 Conflict")
	f.Stop()
	_, _, err = f.Wait()
	require.NoError(t, err)
	assert.Equal(t, StateDone, servers[0].Status().State)

	resp, err := http.Post(members[0].URL+"/rate", "application/json", strings.NewReader(`{"factor":-1}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	_, err = Start(context.Background(), members, Load{URL: tg.URL, Profile: loadgen.ConstantProfile(10), Users: 0, MaxDuration: 0})
	require.ErrorContains(t, err, "MaxDuration")
	fresh, _, _ := startWorkers(t, 3, nil)
	_, err = Start(context.Background(), fresh, Load{URL: tg.URL, Profile: loadgen.ConstantProfile(10), Users: 2, MaxDuration: time.Minute})
	require.ErrorContains(t, err, "2 users cannot be split over 3 workers")
}

// TestWorkerStopsOnItsOwn: without a stop from the harness, a worker stops
// at MaxDuration and its stream ends complete.
func TestWorkerStopsOnItsOwn(t *testing.T) {
	tg := newTarget(t)
	members, servers, _ := startWorkers(t, 1, nil)
	f, err := Start(context.Background(), members, Load{URL: tg.URL, Profile: loadgen.ConstantProfile(50), Users: 5,
		MaxDuration: 500 * time.Millisecond, Lead: 50 * time.Millisecond})
	require.NoError(t, err)
	sum, reports, err := f.Wait() // no Stop: the worker ends by itself
	require.NoError(t, err)
	assert.True(t, reports[0].Complete)
	st := servers[0].Status()
	require.False(t, st.StoppedAt.IsZero(), "it stopped by itself")
	assert.GreaterOrEqual(t, st.StoppedAt.Sub(st.StartedAt), 500*time.Millisecond)
	assert.Positive(t, sum.Total)
	assert.False(t, sum.LastSent.After(st.StoppedAt.Add(100*time.Millisecond)), "nothing sent after it stopped")
}
