package node

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// Default pod IP range. Linux routes all of 127.0.0.0/8 to the loopback
// device, so a process can bind any of these without setup; 127.0.0.0/16 is
// left to the host (the kubelet API and control plane live on 127.0.0.1).
var (
	DefaultPodIPFirst = netip.MustParseAddr("127.1.0.1")
	DefaultPodIPLast  = netip.MustParseAddr("127.1.255.254")
)

// ErrPoolExhausted is returned when every address of a pool is in use.
var ErrPoolExhausted = errors.New("pod IP pool exhausted")

// IPPool hands out IPv4 addresses from an inclusive range. It allocates
// round-robin rather than lowest-free so a released address is not reused
// right away: a client still talking to a deleted pod must not silently
// reach its successor.
type IPPool struct {
	mu          sync.Mutex
	first, last uint32
	next        uint32
	used        map[uint32]string // address -> owner, for diagnostics
}

// NewIPPool returns a pool of the IPv4 addresses first..last inclusive.
func NewIPPool(first, last netip.Addr) (*IPPool, error) {
	if !first.Is4() || !last.Is4() {
		return nil, fmt.Errorf("pod IP range %s-%s: only IPv4 is supported", first, last)
	}
	f, l := ip4ToUint(first), ip4ToUint(last)
	if f > l {
		return nil, fmt.Errorf("pod IP range %s-%s: first is after last", first, last)
	}
	return &IPPool{first: f, last: l, next: f, used: map[uint32]string{}}, nil
}

// Allocate reserves a free address for owner (a pod key, for diagnostics).
func (p *IPPool) Allocate(owner string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := uint64(p.last-p.first) + 1
	for range size {
		ip := p.next
		if p.next == p.last {
			p.next = p.first
		} else {
			p.next++
		}
		if _, taken := p.used[ip]; !taken {
			p.used[ip] = owner
			return uintToIP4(ip), nil
		}
	}
	return netip.Addr{}, ErrPoolExhausted
}

// Release returns ip to the pool. Releasing a free or foreign address is a no-op.
func (p *IPPool) Release(ip netip.Addr) {
	if !ip.Is4() {
		return
	}
	p.mu.Lock()
	delete(p.used, ip4ToUint(ip))
	p.mu.Unlock()
}

// InUse reports how many addresses are allocated.
func (p *IPPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

func ip4ToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToIP4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
