package score

import (
	"io"
	"slices"
	"time"

	"github.com/blastradius/blastradius/harness/results"
	"github.com/blastradius/blastradius/loadgen"
)

// lateness is how far, in send time, a record may arrive behind a later-sent
// one and still enter its second's latency percentiles. Records come in
// completion order, so it only needs to exceed the load generator's request
// timeout (10 s by default). A later record still counts everywhere else.
const lateness = time.Minute

// cell is one version within one second.
type cell struct {
	requests, failed int64
	lat              []time.Duration // kept until the second is final
	p50, p99         time.Duration   // set when the second becomes final
}

func (c *cell) reduce() {
	slices.Sort(c.lat)
	c.p50, c.p99 = loadgen.NearestRank(c.lat, 0.50), loadgen.NearestRank(c.lat, 0.99)
}

// Scorer scores one run from its records, taken one at a time in any order.
// Memory holds per-second counts, the users, and the latencies of the last
// minute or so. A Scorer is not safe for concurrent use.
type Scorer struct {
	in       Input
	excluded int64
	br       results.BlastRadius // counts only; rates and users are filled in by Result
	attr     int64               // attributed requests
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
	return s.in.Window.Start.Add(time.Duration(i) * time.Second)
}

// Observed returns the record facts gathered so far.
func (s *Scorer) Observed() Observed { return s.obs }

// Series returns every second of the window, empty ones included; the last
// one is partial if the window is not a whole number of seconds.
func (s *Scorer) Series() []results.Second {
	n := int((s.in.Window.End.Sub(s.in.Window.Start) + time.Second - 1) / time.Second)
	out := make([]results.Second, n)
	for i := range out {
		sec := results.Second{Index: i, Start: s.secondStart(i), Versions: map[string]results.VersionSecond{}}
		if i < len(s.seconds) {
			for version, c := range s.seconds[i] {
				if i >= s.final {
					c.reduce()
				}
				vs := results.VersionSecond{Requests: c.requests, Failed: c.failed, P50: c.p50, P99: c.p99}
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
func (s *Scorer) Result() results.Scores {
	br := s.br
	br.CandidateShare = CandidateShare(s.obs.CandidateRequests, s.attr)
	br.PeakExposure, br.PeakExposureRate = PeakExposure(s.Series())
	br.UsersTotal = len(s.users)
	for _, failed := range s.users {
		if failed {
			br.UsersAffected++
		}
	}
	return results.Scores{
		Verdict:     Judge(s.in, s.obs),
		BlastRadius: br,
		Timing:      Timings(s.in, s.obs),
		Excluded:    s.excluded,
	}
}

// ScoreReader scores a run from its NDJSON records file.
func ScoreReader(in Input, r io.Reader) (results.Scores, []results.Second, error) {
	s, err := NewScorer(in)
	if err != nil {
		return results.Scores{}, nil, err
	}
	if err := loadgen.ReadRecords(r, func(rec loadgen.Record) error {
		s.Add(rec)
		return nil
	}); err != nil {
		return results.Scores{}, nil, err
	}
	return s.Result(), s.Series(), nil
}

// FailedBefore counts, for each mark, the counted requests that failed and
// were sent before it: the blast radius had the release been stopped at
// that moment. Marks need no order.
func FailedBefore(in Input, r io.Reader, marks []time.Time) ([]int64, error) {
	out := make([]int64, len(marks))
	err := loadgen.ReadRecords(r, func(rec loadgen.Record) error {
		if c := Classify(in, rec); c.Counted && c.Failed {
			for i, m := range marks {
				if rec.Time.Before(m) {
					out[i]++
				}
			}
		}
		return nil
	})
	return out, err
}
