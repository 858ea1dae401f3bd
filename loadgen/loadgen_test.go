package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer answers as a version chosen by pick and remembers, per request,
// which version it answered as and which user asked.
type testServer struct {
	*httptest.Server
	mu        sync.Mutex
	versions  map[string]int64 // "" = answered without X-Version
	errors    int64            // 500s
	users     map[uint64]string
	fragments int64
	badUsers  int64
	newConns  atomic.Int64
}

func newTestServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request) (version string, code int)) *testServer {
	t.Helper()
	s := &testServer{versions: map[string]int64{}, users: map[uint64]string{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version, code := handle(w, r)
		if version != "" {
			w.Header().Set(VersionHeader, version)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("hello"))

		seq, err := strconv.ParseUint(r.Header.Get("X-Vegeta-Seq"), 10, 64)
		user := r.Header.Get(UserHeader)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.versions[version]++
		if code >= 500 {
			s.errors++
		}
		if err == nil {
			s.users[seq] = user
		}
		if strings.Contains(r.RequestURI, "#") || r.URL.Fragment != "" {
			s.fragments++
		}
		if i := UserIndex(user); i < 0 {
			s.badUsers++
		}
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.newConns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) handled() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, c := range s.versions {
		n += c
	}
	return n
}

func TestConfigValidation(t *testing.T) {
	good := Config{URL: "http://127.0.0.1:1/x?y=1", Profile: ConstantProfile(10), Duration: time.Second}
	g, err := New(good)
	require.NoError(t, err)
	assert.Equal(t, DefaultUsers, g.cfg.Users)
	assert.Equal(t, DefaultTimeout, g.cfg.Timeout)
	assert.Equal(t, uint64(DefaultMaxWorkers), g.cfg.MaxWorkers)
	assert.Equal(t, uint64(DefaultWorkers), g.cfg.Workers)

	for _, c := range []struct {
		field  string
		mutate func(*Config)
	}{
		{"url", func(c *Config) { c.URL = "" }},
		{"url", func(c *Config) { c.URL = "http://127.0.0.1:1/#frag" }},
		{"url", func(c *Config) { c.URL = "ftp://127.0.0.1/" }},
		{"url", func(c *Config) { c.URL = "http:///x" }},
		{"url", func(c *Config) { c.URL = "http://[::1" }},
		{"rate", func(c *Config) { c.Profile.Rate = 0 }},
		{"rate-to", func(c *Config) { c.Profile = LinearProfile(1, -1) }},
		{"duration", func(c *Config) { c.Duration = -time.Second }},
		{"duration", func(c *Config) { c.Profile, c.Duration = LinearProfile(1, 2), 0 }},
		{"period", func(c *Config) { c.Profile = SineProfile(10, 1, 0) }},
		{"amplitude", func(c *Config) { c.Profile = SineProfile(10, 11, time.Second) }},
		{"users", func(c *Config) { c.Users = -1 }},
		{"timeout", func(c *Config) { c.Timeout = -1 }},
		{"workers", func(c *Config) { c.Workers, c.MaxWorkers = 5, 4 }},
		{"slo", func(c *Config) { c.SLO = -time.Second }},
	} {
		cfg := good
		c.mutate(&cfg)
		_, err := New(cfg)
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", c.field, err)
		assert.Equal(t, c.field, fe.Field, "%v", err)
		_, err = Run(context.Background(), cfg)
		assert.Error(t, err)
	}
}

func TestGeneratorLifecycleErrors(t *testing.T) {
	g, err := New(Config{URL: "http://127.0.0.1:1/", Profile: ConstantProfile(10), Duration: time.Second})
	require.NoError(t, err)
	_, err = g.Wait()
	assert.ErrorContains(t, err, "not started")
	s := g.Snapshot()
	assert.Zero(t, s.Total)
	assert.NotNil(t, s.Versions)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // cancelled before it starts: it ends at once
	require.NoError(t, g.Start(ctx))
	assert.ErrorContains(t, g.Start(ctx), "already started")
	sum, err := g.Wait()
	require.NoError(t, err)
	require.NoError(t, sum.Reconcile())
}

func TestUsers(t *testing.T) {
	assert.Equal(t, "user-0000", UserName(0))
	assert.Equal(t, "user-0042", UserName(42))
	assert.Equal(t, "user-12345", UserName(12345))
	for _, i := range []int{0, 7, 42, 9999, 12345} {
		assert.Equal(t, i, UserIndex(UserName(i)))
	}
	for _, bad := range []string{"", "user-", "user-x1", "usr-0001", "user-1234567890"} {
		assert.Equal(t, -1, UserIndex(bad), bad)
	}
	assert.Equal(t, "user-0042", userFromURL("http://h/p?q=#x#user-0042"))
	assert.Equal(t, "", userFromURL("http://h/p"))

	u := newUsers(100, 7, "http://h/p?q=1", http.Header{"host": {"example"}}, nil, nil)
	same := newUsers(100, 7, "http://h/p?q=1", nil, nil, nil)
	other := newUsers(100, 8, "http://h/p?q=1", nil, nil, nil)
	counts := make([]int, 100)
	differ := 0
	for k := range uint64(100000) {
		i := u.pick(k)
		counts[i]++
		assert.Equal(t, i, same.pick(k))
		if other.pick(k) != i {
			differ++
		}
	}
	assert.Greater(t, differ, 90000)
	for i, c := range counts {
		assert.InDelta(t, 1000, c, 200, "user %d", i)
	}

	// The targeter's requests carry the user in the header and the URL
	// fragment, plus the extra headers.
	tr := u.targeter()
	var tgt vegeta.Target
	for range 50 {
		require.NoError(t, tr(&tgt))
		req, err := tgt.Request()
		require.NoError(t, err)
		name := req.Header.Get(UserHeader)
		assert.Equal(t, name, userFromURL(tgt.URL))
		assert.Equal(t, "/p?q=1", req.URL.RequestURI())
		assert.Equal(t, "example", req.Host)
		assert.Equal(t, http.MethodGet, req.Method)
	}
	assert.Error(t, tr(nil))
}

// Every request is accounted for exactly once, under concurrent load with
// versions, server errors and unversioned answers, whether connections are
// kept alive or not; the live views (Snapshot, OnSecond) are read
// concurrently all along.
func TestRunReconcilesUnderConcurrentLoad(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepalive=%v", keepAlive), func(t *testing.T) {
			srv := newTestServer(t, func(_ http.ResponseWriter, _ *http.Request) (string, int) {
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
				version := []string{"a", "b", "c", ""}[rand.IntN(4)]
				code := http.StatusOK
				if rand.IntN(10) == 0 {
					code = http.StatusInternalServerError
				}
				return version, code
			})
			var (
				records bytes.Buffer
				seconds []Second
			)
			g, err := New(Config{
				URL:       srv.URL + "/work?x=1",
				Profile:   ConstantProfile(800),
				Duration:  1500 * time.Millisecond,
				Users:     50,
				Seed:      3,
				KeepAlive: keepAlive,
				Records:   &records,
				OnSecond:  func(s Second) { seconds = append(seconds, s) },
			})
			require.NoError(t, err)
			require.NoError(t, g.Start(context.Background()))

			var snapshots, live int
			for {
				s := g.Snapshot()
				require.NoError(t, s.Reconcile())
				snapshots++
				if s.Total > 0 && len(s.Series) > 0 {
					live++
				}
				select {
				case <-g.Done():
				case <-time.After(20 * time.Millisecond):
					continue
				}
				break
			}
			sum, err := g.Wait()
			require.NoError(t, err)
			assert.Positive(t, live, "%d snapshots never showed a finalized second", snapshots)

			// Reconciliation: totals, versions, the server's own counts.
			require.NoError(t, sum.Reconcile())
			// A starved machine sends fewer and takes longer: rate accuracy is
			// BenchmarkThroughput's to measure; here the counts must agree.
			assert.Positive(t, sum.Total)
			assert.LessOrEqual(t, sum.Total, int64(1200+60))
			assert.Equal(t, srv.handled(), sum.Total)
			srv.mu.Lock()
			for _, v := range []string{"a", "b", "c"} {
				assert.Equal(t, srv.versions[v], sum.Versions[v].Requests, v)
			}
			assert.Equal(t, srv.versions[""], sum.Unattributed)
			assert.Equal(t, srv.errors, sum.Failures)
			assert.Zero(t, srv.fragments, "the user fragment must not reach the server")
			assert.Zero(t, srv.badUsers)
			srv.mu.Unlock()
			assert.Zero(t, sum.Late)
			assert.Zero(t, sum.Aborted)
			assert.Equal(t, 50, sum.Users)
			assert.InDelta(t, float64(sum.Total)/sum.Elapsed.Seconds(), sum.AchievedRate, 1e-6*sum.AchievedRate+1e-9)
			assert.InDelta(t, 800, sum.RequestedRate, 1e-9)
			assert.GreaterOrEqual(t, sum.Elapsed, 1450*time.Millisecond)

			// The series adds up and is what OnSecond saw, in order.
			assert.Equal(t, sum.Series, seconds)
			require.Len(t, seconds, 2)
			var inSeries int64
			for i, s := range seconds {
				assert.Equal(t, i, s.Index)
				inSeries += s.Requests
			}
			assert.Equal(t, sum.Total, inSeries)

			// The records match the summary, and each one's user is the
			// user the server saw for that request.
			var n int64
			perVersion := map[string]int64{}
			seqs := map[uint64]bool{}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			require.NoError(t, ReadRecords(&records, func(r Record) error {
				n++
				perVersion[r.Version]++
				assert.False(t, seqs[r.Seq], "duplicate seq %d", r.Seq)
				seqs[r.Seq] = true
				assert.Equal(t, srv.users[r.Seq], r.User, "seq %d", r.Seq)
				assert.Equal(t, r.Code >= 400, r.Failed)
				return nil
			}))
			assert.Equal(t, sum.Total, n)
			assert.Equal(t, sum.Unattributed, perVersion[""])
			for v, st := range sum.Versions {
				assert.Equal(t, st.Requests, perVersion[v])
			}
			if !keepAlive {
				assert.Equal(t, sum.Total, srv.newConns.Load(), "a new connection per request")
			} else {
				// Bursts after scheduling stalls (other work on the machine)
				// open extra connections; most requests still reuse one.
				assert.Less(t, srv.newConns.Load(), sum.Total/2, "connections are reused")
			}
		})
	}
}

// Cancelling the context stops a long attack within a second, even with
// requests hanging in flight, and leaves no goroutines behind (TestMain).
func TestStopsPromptlyOnCancel(t *testing.T) {
	srv := newTestServer(t, func(_ http.ResponseWriter, r *http.Request) (string, int) {
		select { // hang until the client goes away
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return "blue", http.StatusOK
	})
	ctx, cancel := context.WithCancel(context.Background())
	type out struct {
		sum *Summary
		err error
		at  time.Time
	}
	done := make(chan out, 1)
	go func() {
		sum, err := Run(ctx, Config{
			URL:      srv.URL,
			Profile:  ConstantProfile(50),
			Duration: time.Minute,
			Timeout:  30 * time.Second,
		})
		done <- out{sum, err, time.Now()}
	}()
	time.Sleep(500 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	var o out
	select {
	case o = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	require.NoError(t, o.err)
	assert.Less(t, o.at.Sub(cancelled), time.Second)
	require.NoError(t, o.sum.Reconcile())
	assert.InDelta(t, 25, o.sum.Total, 8)
	assert.Equal(t, o.sum.Total, o.sum.Aborted, "every request was in flight")
	assert.Zero(t, o.sum.Failures, "aborted requests are not failures")
	assert.InDelta(t, 500*time.Millisecond, o.sum.Elapsed, float64(300*time.Millisecond))
}

// Stop ends sending but lets requests in flight finish.
func TestGracefulStop(t *testing.T) {
	srv := newTestServer(t, func(_ http.ResponseWriter, _ *http.Request) (string, int) {
		time.Sleep(150 * time.Millisecond)
		return "blue", http.StatusOK
	})
	g, err := New(Config{URL: srv.URL, Profile: ConstantProfile(40), Duration: time.Minute})
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	time.Sleep(400 * time.Millisecond)
	g.Stop()
	select {
	case <-g.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("Stop did not end the run")
	}
	sum, err := g.Wait()
	require.NoError(t, err)
	require.NoError(t, sum.Reconcile())
	// About 400 ms at 40/s; measured against the window the generator saw,
	// since a loaded machine may oversleep.
	assert.InDelta(t, 40*sum.Elapsed.Seconds(), float64(sum.Total), 4)
	assert.Less(t, sum.Elapsed, 2*time.Second, "sending stopped at Stop")
	assert.Equal(t, sum.Total, sum.Versions["blue"].Requests)
	assert.Zero(t, sum.Failures)
	assert.Zero(t, sum.Aborted)
	assert.InDelta(t, 40, sum.AchievedRate, 15)
}

func TestTransportErrorsAreUnattributedFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	var records bytes.Buffer
	sum, err := Run(context.Background(), Config{
		URL:      "http://" + addr + "/",
		Profile:  ConstantProfile(100),
		Duration: 300 * time.Millisecond,
		Records:  &records,
	})
	require.NoError(t, err)
	require.NoError(t, sum.Reconcile())
	assert.Positive(t, sum.Total)
	assert.Equal(t, sum.Total, sum.Unattributed)
	assert.Equal(t, sum.Total, sum.Failures)
	assert.Equal(t, sum.Total, sum.UnattributedStats.TransportErrors)
	assert.Empty(t, sum.Versions)
	var last time.Time
	require.NoError(t, ReadRecords(&records, func(r Record) error {
		assert.Equal(t, 0, r.Code)
		assert.Contains(t, r.Error, "refused")
		assert.NotEmpty(t, r.User)
		if r.Time.After(last) {
			last = r.Time
		}
		return nil
	}))
	assert.True(t, sum.LastSent.Equal(last), "LastSent %s is the latest record's send time %s", sum.LastSent, last)
}

func TestSLOFailures(t *testing.T) {
	srv := newTestServer(t, func(_ http.ResponseWriter, r *http.Request) (string, int) {
		if UserIndex(r.Header.Get(UserHeader))%2 == 1 {
			time.Sleep(60 * time.Millisecond)
			return "slow", http.StatusOK
		}
		return "fast", http.StatusOK
	})
	sum, err := Run(context.Background(), Config{
		URL: srv.URL, Profile: ConstantProfile(100), Duration: 500 * time.Millisecond,
		Users: 10, SLO: 30 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, sum.Reconcile())
	slow, fast := sum.Versions["slow"], sum.Versions["fast"]
	require.NotNil(t, slow)
	require.NotNil(t, fast)
	assert.Equal(t, slow.Requests, slow.Failures)
	assert.Equal(t, slow.Requests, slow.SlowResponses)
	assert.Zero(t, fast.Failures)
	assert.Equal(t, slow.Failures, sum.Failures)
	assert.Equal(t, 5, slow.Users)
	assert.Equal(t, 5, sum.UsersFailed)
	assert.GreaterOrEqual(t, slow.P50, 60*time.Millisecond)
}

func TestRecordsWriteErrorStopsRun(t *testing.T) {
	srv := newTestServer(t, func(http.ResponseWriter, *http.Request) (string, int) { return "blue", http.StatusOK })
	start := time.Now()
	sum, err := Run(context.Background(), Config{
		URL: srv.URL, Profile: ConstantProfile(2000), Duration: 30 * time.Second, KeepAlive: true,
		Records: &failingWriter{after: 1000},
	})
	assert.ErrorContains(t, err, "writing records: disk full")
	require.NotNil(t, sum)
	require.NoError(t, sum.Reconcile())
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestCohortMarksAShareOfUsers(t *testing.T) {
	u := newUsers(2000, 1, "http://h/", nil, &Cohort{Header: "X-Cohort", Value: "internal", Share: 0.1}, nil)
	n := 0
	for i, h := range u.headers {
		in := h.Get("X-Cohort") == "internal"
		if in != InCohort(UserName(i), 0.1) {
			t.Fatalf("user %d: header %v, InCohort %v", i, in, !in)
		}
		if in {
			n++
		}
	}
	if n < 160 || n > 240 { // 10% of 2000 within about 3 sigma
		t.Fatalf("%d of 2000 users in a 10%% cohort", n)
	}
	if InCohort("user-0001", 0) || !InCohort("user-0001", 1) {
		t.Fatal("shares 0 and 1 are none and all")
	}
}

func TestOnRecordSeesEveryRequestAsWritten(t *testing.T) {
	srv := newTestServer(t, func(_ http.ResponseWriter, r *http.Request) (string, int) {
		if UserIndex(r.Header.Get(UserHeader))%3 == 0 {
			return "b", http.StatusInternalServerError
		}
		return "a", http.StatusOK
	})
	var records bytes.Buffer
	var seen []Record
	sum, err := Run(context.Background(), Config{URL: srv.URL, Profile: ConstantProfile(200), Duration: 500 * time.Millisecond,
		Users: 30, Records: &records, OnRecord: func(r *Record) { seen = append(seen, *r) }})
	require.NoError(t, err)
	require.EqualValues(t, sum.Total, len(seen), "one call per request")
	var written []Record
	require.NoError(t, ReadRecords(&records, func(r Record) error { written = append(written, r); return nil }))
	require.Len(t, written, len(seen))
	for i := range seen {
		assert.Equal(t, written[i].Seq, seen[i].Seq, "in the order written")
		assert.Equal(t, written[i].Failed, seen[i].Failed)
		assert.Equal(t, written[i].Version, seen[i].Version)
	}
	assert.Equal(t, sum.Failures, int64(countFailed(seen)))
}

func countFailed(rs []Record) int {
	n := 0
	for _, r := range rs {
		if r.Failed {
			n++
		}
	}
	return n
}
