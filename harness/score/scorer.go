package score

import (
	"io"
	"math"
	"slices"
	"time"

	"github.com/blastradius/blastradius/loadgen"
)

// lateness is how far, in send time, a record may arrive behind a later-sent
// one and still enter its second's latency percentiles. Records come in
// completion order, so it only needs to exceed the load generator's request
// timeout (10 s by default). A later record still counts everywhere else.
const lateness = time.Minute

// VersionSecond is one version's requests within one second. Percentiles
// are exact (nearest rank) over the second's latencies.
type VersionSecond struct {
	Requests int64         `json:"requests"`
	Failed   int64         `json:"failed"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
}

// Second is one second of the window, for the report.
type Second struct {
	Index    int       `json:"index"` // seconds since CandidateApplied
	Start    time.Time `json:"start"`
	Requests int64     `json:"requests"` // all versions and unattributed
	Failed   int64     `json:"failed"`
	// Versions holds attributed requests by version; Unattributed the rest.
	Versions     map[string]VersionSecond `json:"versions"`
	Unattributed VersionSecond            `json:"unattributed"`
}

// cell is one version within one second.
type cell struct {
	requests, failed int64
	lat              []time.Duration // kept until the second is final
	p50, p99         time.Duration   // set when the second becomes final
}

func (c *cell) reduce() {
	slices.Sort(c.lat)
	c.p50, c.p99 = nearestRank(c.lat, 0.50), nearestRank(c.lat, 0.99)
}

// Scorer scores one run from its records, taken one at a time in any order.
// Memory holds per-second counts, the users, and the latencies of the last
// minute or so. A Scorer is not safe for concurrent use.
type Scorer struct {
	in       Input
	excluded int64
	br       BlastRadius // counts only; rates and users are filled in by Result
	attr     int64       // attributed requests
	obs      Observed
	users    map[string]bool // user → saw a failure
	seconds  []map[string]*cell
	final    int // seconds before this have their percentiles reduced
}

// NewScorer returns a Scorer for the run in.
func NewScorer(in Input) (*Scorer, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return &Scorer{in: in, users: map[string]bool{}}, nil
}

// Add scores one record.
func (s *Scorer) Add(rec loadgen.Record) {
	c := Classify(s.in, rec)
	if !c.Counted {
		s.excluded++
		return
	}
	s.br.TotalRequests++
	if c.Attributed {
		s.attr++
	}
	if c.Candidate {
		s.obs.CandidateRequests++
		if rec.Time.After(s.obs.LastCandidateRequest) {
			s.obs.LastCandidateRequest = rec.Time
		}
	}
	if c.Failed {
		s.br.FailedRequests++
		if !c.Attributed {
			s.br.UnattributedErrors++
		}
		if c.Candidate {
			s.br.CandidateFailedRequests++
			if first := s.obs.FirstCandidateFailure; first.IsZero() || rec.Time.Before(first) {
				s.obs.FirstCandidateFailure = rec.Time
			}
		}
	}
	// Requests without a user cannot be attributed to anyone.
	if rec.User != "" {
		s.users[rec.User] = s.users[rec.User] || c.Failed
	}
	s.addToSecond(c.Second, rec, c.Failed)
}

func (s *Scorer) addToSecond(i int, rec loadgen.Record, failed bool) {
	for len(s.seconds) <= i {
		s.seconds = append(s.seconds, nil)
	}
	if s.seconds[i] == nil {
		s.seconds[i] = map[string]*cell{}
	}
	c := s.seconds[i][rec.Version]
	if c == nil {
		c = &cell{}
		s.seconds[i][rec.Version] = c
	}
	c.requests++
	if failed {
		c.failed++
	}
	if i >= s.final {
		c.lat = append(c.lat, rec.Latency)
	}
	// Reduce the seconds no record can still be expected for.
	for s.final < len(s.seconds) && rec.Time.Sub(s.secondStart(s.final+1)) > lateness {
		for _, c := range s.seconds[s.final] {
			c.reduce()
			c.lat = nil
		}
		s.final++
	}
}

func (s *Scorer) secondStart(i int) time.Time {
	return s.in.CandidateApplied.Add(time.Duration(i) * time.Second)
}

// Observed returns the record facts gathered so far.
func (s *Scorer) Observed() Observed { return s.obs }

// Series returns every second of the window, empty ones included; the last
// one is partial if the window is not a whole number of seconds.
func (s *Scorer) Series() []Second {
	n := int((s.in.End.Sub(s.in.CandidateApplied) + time.Second - 1) / time.Second)
	out := make([]Second, n)
	for i := range out {
		sec := Second{Index: i, Start: s.secondStart(i), Versions: map[string]VersionSecond{}}
		if i < len(s.seconds) {
			for version, c := range s.seconds[i] {
				if i >= s.final {
					c.reduce()
				}
				vs := VersionSecond{Requests: c.requests, Failed: c.failed, P50: c.p50, P99: c.p99}
				sec.Requests += vs.Requests
				sec.Failed += vs.Failed
				if version == "" {
					sec.Unattributed = vs
				} else {
					sec.Versions[version] = vs
				}
			}
		}
		out[i] = sec
	}
	return out
}

// Result returns the scores of the records added so far.
func (s *Scorer) Result() Scores {
	br := s.br
	br.CandidateShare = CandidateShare(s.obs.CandidateRequests, s.attr)
	br.PeakExposure, br.PeakExposureRate = PeakExposure(s.Series())
	br.UsersTotal = len(s.users)
	for _, failed := range s.users {
		if failed {
			br.UsersAffected++
		}
	}
	return Scores{
		Verdict:     Judge(s.in, s.obs),
		BlastRadius: br,
		Timing:      Timings(s.in, s.obs),
		Excluded:    s.excluded,
	}
}

// ScoreReader scores a run from its NDJSON records file.
func ScoreReader(in Input, r io.Reader) (Scores, []Second, error) {
	s, err := NewScorer(in)
	if err != nil {
		return Scores{}, nil, err
	}
	if err := loadgen.ReadRecords(r, func(rec loadgen.Record) error {
		s.Add(rec)
		return nil
	}); err != nil {
		return Scores{}, nil, err
	}
	return s.Result(), s.Series(), nil
}

// nearestRank returns the q-quantile of sorted latencies, 0 if none.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted)) * q))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
