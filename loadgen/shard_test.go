package loadgen

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShardsSplitUsersAndRate: the shards' users are disjoint and together
// all of them, their picks stay in their own set, and their weights (rate
// shares) sum to 1.
func TestShardsSplitUsersAndRate(t *testing.T) {
	for _, users := range []int{4, 7, 100, 1001} {
		for _, n := range []int{1, 2, 3, 4} {
			seen := make([]int, users)
			var weights float64
			total := 0
			for _, sh := range Split(n) {
				weights += sh.Weight(users)
				total += sh.Users(users)
				u := newUsers(users, 1, "http://h/", nil, nil, &sh)
				picked := map[int]bool{}
				for k := range uint64(20 * users) {
					i := u.pick(k)
					require.Equal(t, sh.Index, i%n, "shard %d of %d picked user %d", sh.Index, n, i)
					picked[i] = true
				}
				assert.Len(t, picked, sh.Users(users), "every user of the shard gets requests")
				for i := range picked {
					seen[i]++
				}
			}
			assert.Equal(t, users, total)
			assert.InDelta(t, 1, weights, 1e-12, "%d users over %d shards", users, n)
			for i, c := range seen {
				assert.Equal(t, 1, c, "user %d in exactly one shard", i)
			}
		}
	}
}

// schedule returns the first n send times a pacer gives, as vegeta asks it.
func schedule(p *scaledPacer, n int) []time.Duration {
	var out []time.Duration
	var t time.Duration
	for len(out) < n {
		wait, _ := p.Pace(t, uint64(len(out)))
		if wait == 0 {
			out = append(out, t)
			continue
		}
		t += wait
	}
	return out
}

// TestShardedSchedulesInterleave: with equal shares, the shards' send times
// together are the whole load's, request for request; with unequal shares
// each shard still sends its share.
func TestShardedSchedulesInterleave(t *testing.T) {
	const rate, per = 300.0, 50
	for _, n := range []int{2, 3, 4} {
		whole := schedule(newScaledPacer(ConstantProfile(rate), 0), n*per)
		var merged []time.Duration
		for _, sh := range Split(n) {
			p := newScaledPacer(ConstantProfile(rate), 0)
			p.shard(sh.Weight(n*10), sh.phase())
			merged = append(merged, schedule(p, per)...)
		}
		slices.Sort(merged)
		require.Len(t, merged, len(whole))
		for i := range whole {
			assert.InDelta(t, float64(whole[i]), float64(merged[i]), float64(time.Microsecond), "request %d of %d shards", i, n)
		}
	}
	// 7 users over 3 shards: 3, 2, 2 users, so 3/7, 2/7, 2/7 of the rate.
	for _, sh := range Split(3) {
		p := newScaledPacer(ConstantProfile(700), 0)
		p.shard(sh.Weight(7), sh.phase())
		got := schedule(p, 1000)
		achieved := float64(len(got)-1) / (got[len(got)-1] - got[0]).Seconds()
		assert.InDelta(t, 700*sh.Weight(7), achieved, 0.5, "shard %d", sh.Index)
	}
}

func TestShardValidation(t *testing.T) {
	base := Config{URL: "http://127.0.0.1:1/", Profile: ConstantProfile(10), Users: 3}
	for _, sh := range []Shard{{Index: 0, Count: 0}, {Index: 2, Count: 2}, {Index: -1, Count: 2}, {Index: 0, Count: 4}} {
		cfg := base
		cfg.Shard = &sh
		var fe *FieldError
		require.ErrorAs(t, cfg.Validate(), &fe, "%+v", sh)
		assert.Equal(t, "shard", fe.Field)
	}
}

// TestShardedGeneratorsShareOneLoad: four generators, one shard each, at a
// real server: together they send the whole rate, each only to its users.
func TestShardedGeneratorsShareOneLoad(t *testing.T) {
	srv := newTestServer(t, func(http.ResponseWriter, *http.Request) (string, int) { return "blue", 200 })
	const rate, d, users = 400.0, time.Second, 100
	var sums []*Summary
	var recs [][]Record
	gens := make([]*Generator, 4)
	for i, sh := range Split(4) {
		shard := sh
		recs = append(recs, nil)
		g, err := New(Config{URL: srv.URL, Profile: ConstantProfile(rate), Duration: d, Users: users, Seed: 9, Shard: &shard,
			OnRecord: func(r *Record) { recs[i] = append(recs[i], *r) }})
		require.NoError(t, err)
		gens[i] = g
	}
	for _, g := range gens {
		require.NoError(t, g.Start(context.Background()))
	}
	var total int64
	var requested float64
	for _, g := range gens {
		s, err := g.Wait()
		require.NoError(t, err)
		require.NoError(t, s.Reconcile())
		sums = append(sums, s)
		total += s.Total
		requested += s.RequestedRate
	}
	assert.InDelta(t, rate, requested, 1e-9, "the shares' requested rates sum to the whole")
	assert.InDelta(t, rate*d.Seconds(), float64(total), 8, "the whole load was sent")
	for i, rs := range recs {
		assert.NotEmpty(t, rs)
		for _, r := range rs {
			require.Equal(t, i, UserIndex(r.User)%4, "shard %d sent for %s", i, r.User)
		}
	}
	assert.Equal(t, total, srv.handled(), "every request reached the server")
}
