package platform

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistry(t *testing.T) {
	var got Options
	Register("test-only", func(o Options) (Platform, error) { got = o; return nil, nil })
	t.Cleanup(func() { mu.Lock(); delete(registry, "test-only"); mu.Unlock() })

	_, err := New("test-only", Options{DataDir: "d"})
	require.NoError(t, err)
	assert.Equal(t, "d", got.DataDir, "options reach the factory")
	assert.Contains(t, Names(), "test-only")
	assert.Panics(t, func() { Register("test-only", nil) }, "a name registers once")

	planned = []string{"later"}
	t.Cleanup(func() { planned = nil })
	err = Check("later")
	assert.True(t, errors.Is(err, ErrNotImplemented), "a planned platform is not built: %v", err)
	assert.Contains(t, err.Error(), "--platform test-only")

	err = Check("nope")
	assert.ErrorContains(t, err, `unknown platform "nope" (known: `)
	assert.NotErrorIs(t, err, ErrNotImplemented)
}
