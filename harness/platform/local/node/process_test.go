package node

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
)

func newTestSpawner(t *testing.T) (*spawner, string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "pids"), 0o755))
	s := newSpawner(filepath.Join(dir, "pids"))
	t.Cleanup(s.close)
	return s, dir
}

func startSh(t *testing.T, s *spawner, dir, script string) *proc {
	t.Helper()
	p, err := s.start(procSpec{Path: "/bin/sh", Argv: []string{"/bin/sh", "-c", script}, Dir: dir, LogPath: filepath.Join(dir, "c", "0.log")})
	require.NoError(t, err)
	return p
}

func waitDone(t *testing.T, p *proc, within time.Duration) exitStatus {
	t.Helper()
	select {
	case <-p.done:
		return p.status()
	case <-time.After(within):
		p.signal(syscall.SIGKILL)
		<-p.done
		t.Fatalf("process %d did not exit within %v", p.pid, within)
		return exitStatus{}
	}
}

func TestProcessExitAndLogs(t *testing.T) {
	s, dir := newTestSpawner(t)
	p := startSh(t, s, dir, `echo "to stdout"; echo "to stderr" >&2; exit 3`)
	pidFile := filepath.Join(dir, "pids", strconv.Itoa(p.pid))
	ex := waitDone(t, p, 5*time.Second)
	assert.Equal(t, 3, ex.Code)
	assert.False(t, ex.OOMKilled)
	assert.NoFileExists(t, pidFile, "the pid file goes with the process")

	raw, err := os.ReadFile(filepath.Join(dir, "c", "0.log"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), " stdout F to stdout\n")
	assert.Contains(t, string(raw), " stderr F to stderr\n")
}

func TestProcessStartFailure(t *testing.T) {
	s, dir := newTestSpawner(t)
	_, err := s.start(procSpec{Path: "/nonexistent/prog", Argv: []string{"/nonexistent/prog"}, LogPath: filepath.Join(dir, "0.log")})
	assert.Error(t, err)
	entries, _ := os.ReadDir(filepath.Join(dir, "pids"))
	assert.Empty(t, entries)
}

func TestProcessGroupDiesWithLeader(t *testing.T) {
	s, dir := newTestSpawner(t)
	// The shell backgrounds a sleeper in its group, reports its pid and exits.
	p := startSh(t, s, dir, `sleep 300 & echo $!; exit 0`)
	ex := waitDone(t, p, 5*time.Second)
	assert.Equal(t, 0, ex.Code)
	child := firstLogLine(t, filepath.Join(dir, "c", "0.log"))
	pid, err := strconv.Atoi(child)
	require.NoError(t, err, child)
	assert.Eventually(t, func() bool { return !processAlive(pid) }, 3*time.Second, 20*time.Millisecond,
		"what the main process leaves in its group is killed with it")
}

func firstLogLine(t *testing.T, path string) string {
	t.Helper()
	rc := openLogStream(t.Context(), path, logReadOptions{tail: 1}, closedChan())
	defer rc.Close()
	line, err := bufio.NewReader(rc).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func TestProcessSignals(t *testing.T) {
	s, dir := newTestSpawner(t)
	p := startSh(t, s, dir, `sleep 300`)
	time.Sleep(100 * time.Millisecond)
	p.signal(syscall.SIGTERM)
	ex := waitDone(t, p, 5*time.Second)
	assert.Equal(t, syscall.SIGTERM, ex.Signal)
	assert.Equal(t, 143, ex.Code, "killed by a signal: 128+signal, as runtimes report")
	p.signal(syscall.SIGKILL) // after reaping: a no-op, never a stray kill
}

func helperSpec(dir, mode string) procSpec {
	self, _ := os.Executable()
	return procSpec{
		Path: self, Argv: []string{self, filepath.Join(testTmp, "helper-"+mode)},
		Env: []string{helperEnv + "=" + mode}, Dir: dir, LogPath: filepath.Join(dir, mode+".log"),
	}
}

func TestProcessMemoryLimit(t *testing.T) {
	s, dir := newTestSpawner(t)
	spec := helperSpec(dir, "hog")
	spec.MemoryLimit = 100 << 20
	spec.MemoryPoll = 50 * time.Millisecond
	p, err := s.start(spec)
	require.NoError(t, err)
	ex := waitDone(t, p, 10*time.Second)
	assert.True(t, ex.OOMKilled)
	assert.Equal(t, 137, ex.Code)
	assert.Equal(t, syscall.SIGKILL, ex.Signal)
}

func TestLeftoversAreKilled(t *testing.T) {
	dir := t.TempDir()
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		go func() { _ = cmd.Wait() }()
		return cmd
	}
	leftover := start("/bin/sleep", "301")
	stranger := start("/bin/sleep", "302")
	t.Cleanup(func() { _ = stranger.Process.Kill() })
	writePidFile(dir, leftover.Process.Pid, []string{"/bin/sleep", "301"})
	// A reused pid: the recorded command line does not match, so it is spared.
	writePidFile(dir, stranger.Process.Pid, []string{"/opt/something/else"})
	time.Sleep(50 * time.Millisecond) // let both exec

	killed := killLeftovers(dir, 3*time.Second)
	assert.Equal(t, []int{leftover.Process.Pid}, killed)
	assert.False(t, processAlive(leftover.Process.Pid))
	assert.True(t, processAlive(stranger.Process.Pid))
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "records are consumed")
}

// TestChildrenDieWithAgent kills a miniature agent with SIGKILL: Pdeathsig,
// set from the spawner's pinned thread, must take its child along.
func TestChildrenDieWithAgent(t *testing.T) {
	dir := t.TempDir()
	self, _ := os.Executable()
	cmd := exec.Command(self, filepath.Join(testTmp, "helper-spawn"))
	cmd.Env = append(os.Environ(), helperEnv+"=spawn", "PID_DIR="+dir, "LOG_PATH="+filepath.Join(dir, "sleep.log"))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	child, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err, line)
	assert.True(t, processAlive(child))

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	assert.Eventually(t, func() bool { return !processAlive(child) }, 3*time.Second, 20*time.Millisecond,
		"the pod process must not outlive its agent")
	// Its pid file is left behind, for the next agent's killLeftovers.
	assert.FileExists(t, filepath.Join(dir, strconv.Itoa(child)))
}

func TestLogOptionsPreviousInstance(t *testing.T) {
	// The provider-level previous/current mapping is covered with real pods;
	// here: a finished instance's log is complete and readable.
	s, dir := newTestSpawner(t)
	p := startSh(t, s, dir, `for i in 1 2 3 4 5; do echo line $i; done`)
	waitDone(t, p, 5*time.Second)
	rc := openLogStream(t.Context(), filepath.Join(dir, "c", "0.log"), resolveLogOptions(api.ContainerLogOpts{Tail: 2, Follow: true}, time.Now()), p.done)
	defer rc.Close()
	b := make([]byte, 100)
	var got strings.Builder
	for {
		n, err := rc.Read(b)
		got.Write(b[:n])
		if err != nil {
			break
		}
	}
	assert.Equal(t, "line 4\nline 5\n", got.String(), "follow of a finished instance ends")
}

// TestProcTreeCountsDescendants: the memory watch counts a container's
// children, found by the scan on the first tick and read on every tick.
func TestProcTreeCountsDescendants(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "/bin/sleep 300 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	tree := procTree{root: cmd.Process.Pid}
	require.Eventually(t, func() bool {
		tree.tick(time.Now().Add(treeRescan)) // always due
		return len(tree.kids) == 1
	}, 5*time.Second, 20*time.Millisecond, "the sleep child is found")
	shRSS, err := readRSS(cmd.Process.Pid)
	require.NoError(t, err)
	total, err := tree.rss()
	require.NoError(t, err)
	assert.Greater(t, total, shRSS, "the child's memory counts")
	scanned := tree.scanned
	tree.tick(scanned.Add(treeRescan / 2))
	assert.Equal(t, scanned, tree.scanned, "no rescan before treeRescan")
}
