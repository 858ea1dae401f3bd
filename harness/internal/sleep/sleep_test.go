package sleep

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFor(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	assert.True(t, For(ctx, 20*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	assert.True(t, For(ctx, -time.Second), "a past deadline returns at once")
	assert.True(t, Until(ctx, time.Now().Add(-time.Hour)))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.False(t, For(cancelled, time.Hour), "a cancelled context ends the sleep")
	assert.False(t, For(cancelled, 0), "and reports it even without a wait")
}
