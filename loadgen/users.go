package loadgen

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Header names the load generator uses.
const (
	// VersionHeader is the response header naming the serving version.
	VersionHeader = "X-Version"
	// UserHeader is the request header naming the synthetic user.
	UserHeader = "X-User"
)

const userPrefix = "user-"

// UserName is the name of synthetic user i: "user-0042" for 42.
func UserName(i int) string {
	s := strconv.Itoa(i)
	if len(s) < 4 {
		s = strings.Repeat("0", 4-len(s)) + s
	}
	return userPrefix + s
}

// UserIndex parses a UserName; it returns -1 for anything else.
func UserIndex(name string) int {
	digits, ok := strings.CutPrefix(name, userPrefix)
	if !ok || len(digits) == 0 || len(digits) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// userFromURL recovers the user from a request URL built by users: the
// fragment. Fragments are never sent to the server, so the target sees the
// URL it was given, yet vegeta hands the URL back on every result, including
// transport errors.
func userFromURL(u string) string {
	i := strings.LastIndexByte(u, '#')
	if i < 0 {
		return ""
	}
	return u[i+1:]
}

// users hands out requests on behalf of n synthetic users. The k-th request
// goes to a user picked by a counter-based generator (SplitMix64) seeded with
// seed, so the sequence of users is a pure function of the seed however many
// workers ask concurrently.
type users struct {
	urls    []string
	headers []http.Header
	seed    uint64
	next    atomic.Uint64
	// A shard picks among its own users only: index, index+count, ...
	first, stride, own int
}

// Shard is one of Count generators that share one load: generator Index
// sends for the users whose number is Index modulo Count (disjoint user
// sets that together are all of them), at the share of the rate its users
// are of all users (so the shares sum to the whole rate), its requests
// interleaved with the others' when the shares are equal: the k-th request
// of the whole schedule is generator k mod Count's.
type Shard struct {
	Index, Count int
}

// Users is how many of users users the shard has.
func (s Shard) Users(users int) int { return (users - s.Index + s.Count - 1) / s.Count }

// Weight is the shard's share of the rate: its share of the users.
func (s Shard) Weight(users int) float64 { return float64(s.Users(users)) / float64(users) }

// phase offsets the shard's requests within the whole schedule: with equal
// weights, shard i sends requests i, i+Count, i+2*Count, ... (from 0).
func (s Shard) phase() float64 { return 1 - float64(s.Index+1)/float64(s.Count) }

// Split returns the n shards of one load, in order.
func Split(n int) []Shard {
	out := make([]Shard, n)
	for i := range out {
		out[i] = Shard{Index: i, Count: n}
	}
	return out
}

// Cohort marks the users whose CohortOf is below Share with Header: Value.
type Cohort struct {
	Header, Value string
	Share         float64 // of the users, 0..1
}

// InCohort reports whether the named user belongs to a cohort of share:
// by a hash of the name, so membership does not depend on the seed, and a
// share of 0.1 is about a tenth of any set. The hash is salted, so a cohort
// is independent of the demo app's user segment (also a hash of X-User).
func InCohort(user string, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte("cohort/" + user))
	return float64(h.Sum64()%10000) < share*10000
}

func newUsers(n int, seed int64, base string, extra http.Header, cohort *Cohort, shard *Shard) *users {
	u := &users{
		urls:    make([]string, n),
		headers: make([]http.Header, n),
		seed:    uint64(seed),
		stride:  1,
		own:     n,
	}
	if shard != nil {
		// Each shard its own stream of picks.
		u.seed = splitmix64(uint64(seed) ^ uint64(shard.Index)*0xd1b54a32d192ed03)
		u.first, u.stride, u.own = shard.Index, shard.Count, shard.Users(n)
	}
	for i := range n {
		name := UserName(i)
		u.urls[i] = base + "#" + name
		h := make(http.Header, len(extra)+1)
		for k, vs := range extra {
			h[http.CanonicalHeaderKey(k)] = vs
		}
		h[UserHeader] = []string{name}
		if cohort != nil && InCohort(name, cohort.Share) {
			h[http.CanonicalHeaderKey(cohort.Header)] = []string{cohort.Value}
		}
		u.headers[i] = h
	}
	return u
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// pick returns the user of the k-th request.
func (u *users) pick(k uint64) int {
	return u.first + u.stride*int(splitmix64(u.seed+k*0x9e3779b97f4a7c15)%uint64(u.own))
}

// targeter returns a vegeta.Targeter issuing GETs as successive users. Target
// headers are shared between requests; vegeta copies them into each request.
func (u *users) targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		i := u.pick(u.next.Add(1) - 1)
		*t = vegeta.Target{Method: http.MethodGet, URL: u.urls[i], Header: u.headers[i]}
		return nil
	}
}
