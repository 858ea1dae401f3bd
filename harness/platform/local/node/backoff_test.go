package node

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffSequence(t *testing.T) {
	b := newBackoff(10*time.Second, 5*time.Minute)
	var got []time.Duration
	for range 9 {
		got = append(got, b.next(time.Second))
	}
	s := time.Second
	assert.Equal(t, []time.Duration{0, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s, 300 * s}, got,
		"the first restart is immediate, then the kubelet's 10s doubling to 5m")

	// A container that ran for 10 minutes starts over.
	assert.Equal(t, time.Duration(0), b.next(10*time.Minute))
	assert.Equal(t, 10*s, b.next(time.Second))
}

func TestBackoffPull(t *testing.T) {
	b := newBackoff(time.Second, 4*time.Second)
	var got []time.Duration
	for range 5 {
		got = append(got, b.pull())
	}
	s := time.Second
	assert.Equal(t, []time.Duration{s, 2 * s, 4 * s, 4 * s, 4 * s}, got)
	b.reset()
	assert.Equal(t, s, b.pull())
}
