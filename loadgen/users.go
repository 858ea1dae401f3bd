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

func newUsers(n int, seed int64, base string, extra http.Header, cohort *Cohort) *users {
	u := &users{
		urls:    make([]string, n),
		headers: make([]http.Header, n),
		seed:    uint64(seed),
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
	return int(splitmix64(u.seed+k*0x9e3779b97f4a7c15) % uint64(len(u.urls)))
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
