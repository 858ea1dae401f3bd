package node

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a small program for process tests.
const helperEnv = "NODE_TEST_HELPER"

var (
	testTmp string // removed after the run

	demoappOnce sync.Once
	demoappPath string
	demoappErr  error
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		return
	}
	var err error
	testTmp, err = os.MkdirTemp("", "node-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Goroutines of package init (klog, opencensus) are not ours.
	initial := goleak.IgnoreCurrent()
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(initial); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	if code == 0 {
		if pids := leftoverProcesses(testTmp); len(pids) > 0 {
			fmt.Fprintln(os.Stderr, "processes left running:", pids)
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			code = 1
		}
	}
	os.RemoveAll(testTmp)
	os.Exit(code)
}

// runHelper implements the helper programs.
func runHelper(mode string) {
	switch mode {
	case "ignore-term": // survives SIGTERM; only SIGKILL ends it
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		time.Sleep(time.Hour)
	case "hog": // grows its RSS by ~20 MiB every 100ms
		var keep [][]byte
		for {
			b := make([]byte, 20<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
			time.Sleep(100 * time.Millisecond)
		}
	case "spawn": // an agent in miniature: spawn a sleeper, report its pid, hang
		s := newSpawner(os.Getenv("PID_DIR"))
		p, err := s.start(procSpec{Path: "/bin/sleep", Argv: []string{"/bin/sleep", "300"}, LogPath: os.Getenv("LOG_PATH")})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.pid)
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

// demoapp builds the demo app once per test run.
func demoapp(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the demo app; skipped in -short")
	}
	demoappOnce.Do(func() {
		demoappPath = filepath.Join(testTmp, "demoapp")
		cmd := exec.Command("go", "build", "-o", demoappPath, "github.com/blastradius/blastradius/demoapp/cmd/demoapp")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			demoappErr = fmt.Errorf("building the demo app: %v\n%s", err, out.String())
		}
	})
	if demoappErr != nil {
		t.Fatal(demoappErr)
	}
	return demoappPath
}

// testIPRange is a random /24 of loopback addresses, so concurrent test
// binaries (and a local platform) do not collide on pod addresses.
func testIPRange() (netip.Addr, netip.Addr) {
	b, c := byte(100+rand.IntN(100)), byte(rand.IntN(256))
	return netip.AddrFrom4([4]byte{127, b, c, 1}), netip.AddrFrom4([4]byte{127, b, c, 254})
}

// leftoverProcesses lists live processes whose command line mentions dir.
func leftoverProcesses(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
