package loadgen

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/blastradius/blastradius/demoapp"
)

const (
	benchRate     = 5000
	benchDuration = 5 * time.Second
	overRate      = 100000
	overWorkers   = 64
)

// benchServer is the healthy blue demo app on loopback, in process, with
// its per-request log discarded so that the numbers measure the load side.
func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	app, err := demoapp.New(demoapp.Config{Color: "blue", Version: "blue", Pod: "bench",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(app.Close)
	srv := httptest.NewServer(app)
	b.Cleanup(srv.Close)
	return srv
}

// plainVegeta runs vegeta's own attack loop, draining results into
// vegeta.Metrics, with no attribution.
func plainVegeta(url string, rate int, d time.Duration) vegeta.Metrics {
	atk := vegeta.NewAttacker(vegeta.KeepAlive(true))
	tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: url})
	var m vegeta.Metrics
	for res := range atk.Attack(tgt, vegeta.Rate{Freq: rate, Per: time.Second}, d, "") {
		m.Add(res)
	}
	m.Close()
	return m
}

// BenchmarkThroughput compares the load generator, with attribution,
// records and streaming aggregation, to plain vegeta at the same rate.
func BenchmarkThroughput(b *testing.B) {
	for range b.N {
		srv := benchServer(b)

		m := plainVegeta(srv.URL+"/color", benchRate, benchDuration)
		plain := float64(m.Requests) / benchDuration.Seconds()

		var sink countingWriter
		sum, err := Run(context.Background(), Config{
			URL:       srv.URL + "/color",
			Profile:   ConstantProfile(benchRate),
			Duration:  benchDuration,
			KeepAlive: true,
			Records:   &sink,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := sum.Reconcile(); err != nil {
			b.Fatal(err)
		}
		if got := sum.Versions["blue"]; got == nil || got.Requests+sum.Unattributed != sum.Total {
			b.Fatalf("attribution: %+v", sum)
		}
		b.ReportMetric(benchRate, "requested-rps")
		b.ReportMetric(plain, "vegeta-rps")
		b.ReportMetric(sum.AchievedRate, "loadgen-rps")
		b.ReportMetric(sum.AchievedRate/plain, "ratio")
		b.ReportMetric(float64(sum.Failures), "loadgen-failures")
		b.ReportMetric(float64(len(m.Errors)), "vegeta-error-kinds")
		b.Logf("vegeta %.0f rps (success %.4f), loadgen %.0f rps (%d requests, %d failed, %d unattributed, records %d bytes)",
			plain, m.Success, sum.AchievedRate, sum.Total, sum.Failures, sum.Unattributed, sink.n)
	}
}

// BenchmarkOverCapacity asks for more than the machine can do, with a
// bounded worker pool: the achieved rate is reported honestly and requests
// keep completing instead of collapsing into timeouts. Plain vegeta with the
// same pool runs alongside, so the ratio is the cost of attribution at
// saturation.
func BenchmarkOverCapacity(b *testing.B) {
	for range b.N {
		srv := benchServer(b)

		atk := vegeta.NewAttacker(vegeta.KeepAlive(true), vegeta.MaxWorkers(overWorkers), vegeta.Timeout(5*time.Second))
		tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: srv.URL + "/color"})
		var m vegeta.Metrics
		for res := range atk.Attack(tgt, vegeta.Rate{Freq: overRate, Per: time.Second}, benchDuration, "") {
			m.Add(res)
		}
		m.Close()
		plain := float64(m.Requests) / benchDuration.Seconds()

		sum, err := Run(context.Background(), Config{
			URL:        srv.URL + "/color",
			Profile:    ConstantProfile(overRate),
			Duration:   benchDuration,
			KeepAlive:  true,
			MaxWorkers: overWorkers,
			Timeout:    5 * time.Second,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := sum.Reconcile(); err != nil {
			b.Fatal(err)
		}
		var p99 time.Duration
		if v := sum.Versions["blue"]; v != nil {
			p99 = v.P99
		}
		b.ReportMetric(sum.RequestedRate, "requested-rps")
		b.ReportMetric(sum.AchievedRate, "loadgen-rps")
		b.ReportMetric(plain, "vegeta-rps")
		b.ReportMetric(sum.AchievedRate/plain, "ratio")
		b.ReportMetric(float64(sum.Failures), "failures")
		b.ReportMetric(float64(sum.UnattributedStats.TransportErrors), "timeouts+errors")
		b.ReportMetric(float64(p99)/1e6, "p99-ms")
		b.Logf("requested %d rps with %d workers: loadgen %.0f rps (%d requests, %d failed, p99 %s), vegeta %.0f rps (success %.4f)",
			overRate, overWorkers, sum.AchievedRate, sum.Total, sum.Failures, p99, plain, m.Success)
		if sum.Total == 0 || float64(sum.Failures) > 0.01*float64(sum.Total) {
			b.Errorf("collapsed: %d of %d requests failed", sum.Failures, sum.Total)
		}
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
