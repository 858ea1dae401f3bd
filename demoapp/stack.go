package demoapp

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// The demo app has no real bugs, so the logs of its injected failures are
// written to look like those of a real Go service: an error message and a
// goroutine dump. Each version fails with one signature (picked by a hash of
// the version name), as a real bad release would.

// frame is one function of a fake goroutine dump, innermost first.
type frame struct{ fn, loc string }

type failure struct {
	msg    string
	frames []frame
}

var failures = []failure{
	{
		msg: "upstream inventory: read tcp 10.244.1.17:48122->10.96.43.7:8080: read: connection reset by peer",
		frames: []frame{
			{"main.(*InventoryClient).Reserve(0xc000214000, {0xb1e2a8, 0xc0003a2150}, {0xc00031a0c0, 0x24})", "/src/inventory/client.go:87 +0x2c5"},
			{"main.(*CheckoutHandler).ServeHTTP(0xc0001b6080, {0xb1d6f0, 0xc0004181c0}, 0xc000532000)", "/src/checkout.go:118 +0x1f3"},
		},
	},
	{
		msg: "pricing: Get \"http://pricing.shop.svc:8080/v2/quote\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
		frames: []frame{
			{"main.(*PricingClient).Quote(0xc00012e1e0, {0xb1e2a8, 0xc0002f4a80}, 0xc0003b8000)", "/src/pricing/client.go:142 +0x3b4"},
			{"main.(*ColorHandler).render(0xc0001b6000, {0xb1e2a8, 0xc0002f4a80}, 0xc0003b8000)", "/src/color.go:56 +0x9e"},
			{"main.(*ColorHandler).ServeHTTP(0xc0001b6000, {0xb1d6f0, 0xc0004200e0}, 0xc000412200)", "/src/color.go:31 +0x145"},
		},
	},
	{
		msg: "orders: pq: deadlock detected (SQLSTATE 40P01)",
		frames: []frame{
			{"main.(*OrderStore).Insert(0xc0000a4b40, {0xb1e2a8, 0xc000390db0}, 0xc0002c6380)", "/src/store/orders.go:211 +0x4f8"},
			{"main.(*CheckoutHandler).placeOrder(0xc0001b6080, {0xb1e2a8, 0xc000390db0}, 0xc0002c6380)", "/src/checkout.go:164 +0x1a7"},
			{"main.(*CheckoutHandler).ServeHTTP(0xc0001b6080, {0xb1d6f0, 0xc0003fc0e0}, 0xc0004fe000)", "/src/checkout.go:121 +0x2d6"},
		},
	},
	{
		msg: "cart: decode session: json: cannot unmarshal string into Go struct field Item.items.quantity of type int",
		frames: []frame{
			{"main.decodeCart({0xc000488000, 0x1f3, 0x200})", "/src/cart/session.go:48 +0x11c"},
			{"main.(*CartMiddleware).ServeHTTP(0xc000118a20, {0xb1d6f0, 0xc00041e2a0}, 0xc0004fe100)", "/src/cart/middleware.go:73 +0x26b"},
		},
	},
}

// httpFrames are the bottom of every request goroutine in a Go server.
var httpFrames = []frame{
	{"net/http.serverHandler.ServeHTTP({0xc0001f4000?}, {0xb1d6f0?, 0xc0004181c0?}, 0x6?)", "/usr/local/go/src/net/http/server.go:3340 +0x8e"},
	{"net/http.(*conn).serve(0xc0002a8000, {0xb1e2a8, 0xc000210f00})", "/usr/local/go/src/net/http/server.go:2109 +0x665"},
}

const createdByServe = "created by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3493 +0x485"

// failureFor picks the version's failure signature.
func failureFor(version string) failure {
	h := fnv.New32a()
	h.Write([]byte(version))
	return failures[h.Sum32()%uint32(len(failures))]
}

// goroutineDump renders frames like the runtime does in a panic.
func goroutineDump(id int64, frames []frame, createdBy string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "goroutine %d [running]:\n", id)
	for i, f := range frames {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s\n\t%s", f.fn, f.loc)
	}
	if createdBy != "" {
		b.WriteString("\n" + createdBy)
	}
	return b.String()
}

func requestStack(id int64, frames []frame) string {
	return goroutineDump(id, append(append([]frame(nil), frames...), httpFrames...), createdByServe)
}

// crashAfterReport is the panic of a process that dies after N requests: a
// cache that corrupts itself as it fills up.
func crashAfterReport(id int64) (msg, stack string) {
	return "panic: runtime error: index out of range [128] with length 128",
		requestStack(id, []frame{
			{"main.(*ColorCache).evict(...)", "/src/cache.go:64"},
			{"main.(*ColorCache).Put(0xc0000b2000, {0xc0003d6060, 0x6}, {0xc00040e000, 0x3c, 0x40})", "/src/cache.go:41 +0x1d9"},
			{"main.(*ColorHandler).ServeHTTP(0xc0001b6000, {0xb1d6f0, 0xc0004200e0}, 0xc000412200)", "/src/color.go:38 +0x2b1"},
		})
}

// crashPathReport is the panic of a handler that dereferences nil.
func crashPathReport(id int64, path string) (msg, stack string) {
	return "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x28 pc=0x6f3a21]",
		requestStack(id, []frame{
			{"main.(*Router).lookup(0x0, {0xc00031c010, " + fmt.Sprintf("%#x", len(path)) + "})", "/src/router.go:92 +0x21"},
			{"main.(*Router).ServeHTTP(0xc0000a8000, {0xb1d6f0, 0xc0004200e0}, 0xc000412200)", "/src/router.go:57 +0x8c"},
		})
}

// crashOnStartReport is a process that cannot initialize, as with log.Fatal.
func crashOnStartReport() (msg, stack string) {
	return "failed to initialize: load pricing rules: open /etc/shop/pricing-rules.yaml: no such file or directory",
		goroutineDump(1, []frame{
			{"main.mustLoadRules({0x8e4b2a, 0x1f})", "/src/rules.go:29 +0x1b8"},
			{"main.main()", "/src/main.go:44 +0x2a5"},
		}, "")
}
