package loadgen

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp"
)

// demoVersion is a real demo app version served in-process, with a count of
// what it answered so that the load generator's numbers can be checked
// against the server's own.
type demoVersion struct {
	*httptest.Server
	mu       sync.Mutex
	requests int64
	errors   int64
}

func newDemoVersion(t *testing.T, name string, errorRate float64, seed int64) *demoVersion {
	t.Helper()
	app, err := demoapp.New(demoapp.Config{
		Color: name, Version: name, Pod: name + "-0", Seed: seed,
		Faults: demoapp.Faults{ErrorRate: errorRate},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	v := &demoVersion{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		app.ServeHTTP(rec, r)
		v.mu.Lock()
		v.requests++
		if rec.code >= 500 {
			v.errors++
		}
		v.mu.Unlock()
	}))
	t.Cleanup(v.Close)
	return v
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// weightedProxy sends each request to a backend picked at random by weight,
// like a canary's traffic split, except for a share that it fails itself
// without any X-Version: a 502, or a connection dropped without a response.
type weightedProxy struct {
	*httptest.Server
	mu       sync.Mutex
	requests int64
	bad      int64 // 502s of its own
	dropped  int64
}

func newWeightedProxy(t *testing.T, badRate, dropRate float64, backends []*demoVersion, weights []float64) *weightedProxy {
	t.Helper()
	p := &weightedProxy{}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	proxies := make([]*httputil.ReverseProxy, len(backends))
	for i, b := range backends {
		u, err := url.Parse(b.URL)
		require.NoError(t, err)
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
		proxies[i].Transport = tr
	}
	rng := rand.New(rand.NewPCG(42, 7))
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		x := rng.Float64()
		pick := rng.Float64()
		switch {
		case x < badRate:
			p.bad++
		case x < badRate+dropRate:
			p.dropped++
		}
		p.mu.Unlock()

		switch {
		case x < badRate:
			http.Error(w, "no healthy upstream", http.StatusBadGateway)
			return
		case x < badRate+dropRate:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		i := 0
		for acc := weights[0]; pick >= acc && i < len(weights)-1; {
			i++
			acc += weights[i]
		}
		proxies[i].ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// End to end: two versions behind a 70/30 weighted proxy, at a few hundred
// requests per second with a new connection per request.
func TestEndToEndWeightedSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end load test")
	}
	blue := newDemoVersion(t, "blue", 0, 1)
	green := newDemoVersion(t, "green", 0.1, 2)
	proxy := newWeightedProxy(t, 0.04, 0.01, []*demoVersion{blue, green}, []float64{0.7, 0.3})

	var records bytes.Buffer
	var seconds []Second
	sum, err := Run(context.Background(), Config{
		URL:      proxy.URL + "/color",
		Profile:  ConstantProfile(300),
		Duration: 3 * time.Second,
		Users:    200,
		Seed:     11,
		Timeout:  5 * time.Second,
		Records:  &records,
		OnSecond: func(s Second) { seconds = append(seconds, s) },
	})
	require.NoError(t, err)

	// Reconciliation is exact, against every party's own count.
	require.NoError(t, sum.Reconcile())
	assert.InDelta(t, 900, sum.Total, 45)
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	blue.mu.Lock()
	defer blue.mu.Unlock()
	green.mu.Lock()
	defer green.mu.Unlock()
	assert.Equal(t, proxy.requests, sum.Total)
	assert.Equal(t, blue.requests, sum.Versions["blue"].Requests)
	assert.Equal(t, green.requests, sum.Versions["green"].Requests)
	assert.Equal(t, proxy.bad+proxy.dropped, sum.Unattributed)
	assert.Positive(t, sum.Unattributed)
	assert.Equal(t, proxy.bad, sum.UnattributedStats.ServerErrors)
	assert.Equal(t, proxy.dropped, sum.UnattributedStats.TransportErrors)
	assert.Equal(t, sum.Unattributed, sum.UnattributedStats.Failures)

	// The split follows the weights.
	attributed := float64(sum.Versions["blue"].Requests + sum.Versions["green"].Requests)
	assert.InDelta(t, 0.7, float64(sum.Versions["blue"].Requests)/attributed, 0.06)

	// Failures: green's injected 500s plus the proxy's own.
	assert.Zero(t, sum.Versions["blue"].Failures)
	assert.Equal(t, green.errors, sum.Versions["green"].Failures)
	assert.Positive(t, green.errors)
	assert.Equal(t, green.errors+proxy.bad+proxy.dropped, sum.Failures)
	assert.Positive(t, sum.UsersFailed)
	assert.LessOrEqual(t, sum.UsersFailed, 200)

	assert.InDelta(t, 300, sum.AchievedRate, 20)
	assert.Equal(t, sum.Series, seconds)
	var inSeries, inRecords int64
	for _, s := range seconds {
		inSeries += s.Requests
	}
	assert.Equal(t, sum.Total, inSeries)
	require.NoError(t, ReadRecords(&records, func(r Record) error {
		inRecords++
		if r.Version == "" {
			assert.True(t, r.Failed)
		}
		return nil
	}))
	assert.Equal(t, sum.Total, inRecords)
}
