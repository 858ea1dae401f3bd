package demoapp

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names, as queried by analysis templates.
const (
	MetricRequests  = "demoapp_http_requests_total"
	MetricDuration  = "demoapp_http_request_duration_seconds"
	MetricBuildInfo = "demoapp_build_info"
)

// DurationBuckets span a fast 1ms answer to a 10s stall.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics live in a registry of their own, so several servers can run in one
// test process and nothing global leaks in.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec // curried: code only
	duration prometheus.Observer
}

func newMetrics(version, color string) *metrics {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRequests,
		Help: "App requests served (not probes, metrics or admin), by HTTP status code.",
	}, []string{"code", "version", "color"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricDuration,
		Help:    "Latency of app requests, including injected delay.",
		Buckets: DurationBuckets,
	}, []string{"version"})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricBuildInfo,
		Help: "Always 1; labels identify the running version.",
	}, []string{"color", "version"})
	reg.MustRegister(requests, duration, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo.WithLabelValues(color, version).Set(1)

	m := &metrics{
		registry: reg,
		requests: requests.MustCurryWith(prometheus.Labels{"version": version, "color": color}),
		duration: duration.WithLabelValues(version),
	}
	// Start the usual series at 0 so error-ratio queries have data before the
	// first failure.
	m.requests.WithLabelValues("200")
	m.requests.WithLabelValues("500")
	return m
}

func (m *metrics) observe(code int, d time.Duration) {
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	m.duration.Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
