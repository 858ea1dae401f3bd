package node

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIPPoolAllocateRelease(t *testing.T) {
	p, err := NewIPPool(netip.MustParseAddr("127.1.0.254"), netip.MustParseAddr("127.1.1.1"))
	require.NoError(t, err)

	var got []string
	for range 4 {
		ip, err := p.Allocate("pod")
		require.NoError(t, err)
		got = append(got, ip.String())
	}
	assert.Equal(t, []string{"127.1.0.254", "127.1.0.255", "127.1.1.0", "127.1.1.1"}, got, "the range crosses octets")
	assert.Equal(t, 4, p.InUse())

	_, err = p.Allocate("pod")
	assert.ErrorIs(t, err, ErrPoolExhausted)

	p.Release(netip.MustParseAddr("127.1.0.255"))
	p.Release(netip.MustParseAddr("10.0.0.1")) // foreign: ignored
	assert.Equal(t, 3, p.InUse())
	ip, err := p.Allocate("pod")
	require.NoError(t, err)
	assert.Equal(t, "127.1.0.255", ip.String(), "the freed address is the only one left")
}

func TestIPPoolDoesNotReuseAtOnce(t *testing.T) {
	p, err := NewIPPool(DefaultPodIPFirst, DefaultPodIPLast)
	require.NoError(t, err)
	a, err := p.Allocate("a")
	require.NoError(t, err)
	assert.Equal(t, "127.1.0.1", a.String())
	p.Release(a)
	b, err := p.Allocate("b")
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "a released address is not handed out again right away")
}

func TestIPPoolRejectsBadRanges(t *testing.T) {
	_, err := NewIPPool(netip.MustParseAddr("127.1.0.9"), netip.MustParseAddr("127.1.0.1"))
	assert.Error(t, err)
	_, err = NewIPPool(netip.MustParseAddr("::1"), netip.MustParseAddr("::2"))
	assert.Error(t, err)
}
