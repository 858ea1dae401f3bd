// Package worker spreads one load over several load generators that run
// where the target is (pods of a cluster), and brings every request's
// record back to the harness.
//
// A Server runs in each worker (`blastradius load-worker`): it waits for an
// attack, sends its shard of the load (loadgen.Shard: its own users, its
// share of the rate) from a start time shared by all workers, spools its
// records and serves them as a stream that can be resumed from any record.
// A Fleet, in the harness, starts the attack on every worker with one start
// time (the barrier), relays rate changes and the stop, and merges the
// streams into one records file and one loadgen.Summary (loadgen.Merger),
// so that scoring sees what one generator would have produced. A worker
// that stops answering is reported lost with its share; what it sent
// before stays counted.
//
// The HTTP API, all JSON:
//
//	GET  /healthz            200 once the server listens
//	POST /attack   Attack    202; 409 if an attack was already given
//	POST /rate     {factor}  multiplies the rate from now on (1 restores it)
//	POST /stop               stops sending; requests in flight complete
//	GET  /records?from=N     NDJSON records from the N-th (0-based), following
//	                         until the attack is over and all are sent
//	GET  /status   Status
package worker

import (
	"net/http"
	"time"

	"github.com/blastradius/blastradius/loadgen"
)

// Attack is one worker's part of a load.
type Attack struct {
	URL       string          `json:"url"`
	Profile   loadgen.Profile `json:"profile"` // the whole load's; the shard takes its share
	Users     int             `json:"users"`   // of the whole load
	Seed      int64           `json:"seed"`
	Shard     loadgen.Shard   `json:"shard"`
	KeepAlive bool            `json:"keepAlive,omitempty"`
	Timeout   time.Duration   `json:"timeout,omitempty"`
	SLO       time.Duration   `json:"slo,omitempty"`
	Headers   http.Header     `json:"headers,omitempty"`
	Cohort    *loadgen.Cohort `json:"cohort,omitempty"`
	// StartAt is when every worker starts sending (the barrier); a worker
	// that gets the attack later starts at once and says so in its status.
	StartAt time.Time `json:"startAt"`
	// MaxDuration stops the worker on its own should the harness never say
	// stop (it was killed): the run's whole budget.
	MaxDuration time.Duration `json:"maxDuration"`
}

// Config is the loadgen configuration of the worker's shard.
func (a Attack) Config() loadgen.Config {
	shard := a.Shard
	return loadgen.Config{
		URL: a.URL, Profile: a.Profile, Users: a.Users, Seed: a.Seed, Shard: &shard,
		KeepAlive: a.KeepAlive, Timeout: a.Timeout, SLO: a.SLO, Headers: a.Headers, Cohort: a.Cohort,
	}
}

// State is where a worker is in its attack.
type State string

// States of a worker.
const (
	StateIdle    State = "idle"    // no attack yet
	StateWaiting State = "waiting" // waiting for StartAt
	StateRunning State = "running"
	StateDone    State = "done" // stopped, every record spooled
)

// Status is what GET /status answers.
type Status struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	Records   int64     `json:"records"`             // spooled so far
	StartedAt time.Time `json:"startedAt,omitzero"`  // when it really started sending
	StoppedAt time.Time `json:"stoppedAt,omitzero"`  // when it was told to stop, or hit MaxDuration
	Error     string    `json:"error,omitempty"`     // the attack failed
	Summary   *Totals   `json:"summary,omitempty"`   // once done
	LateStart bool      `json:"lateStart,omitempty"` // got the attack after StartAt
}

// Totals are a worker's own counts once it is done, to check the stream
// against.
type Totals struct {
	Total         int64     `json:"total"`
	Failures      int64     `json:"failures"`
	Aborted       int64     `json:"aborted"`
	RequestedRate float64   `json:"requestedRate"`
	AchievedRate  float64   `json:"achievedRate"`
	LastSent      time.Time `json:"lastSent,omitzero"`
}

type rateRequest struct {
	Factor float64 `json:"factor"`
}
