package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// This file is the process layer: it starts, signals and reaps one container
// instance, and nothing else. It knows no Kubernetes types.

// spawner starts processes from one OS thread pinned for its whole life.
// Pdeathsig fires when the thread that forked a child exits, not the process,
// and the Go runtime may retire an arbitrary thread; forking from a pinned
// thread makes "the child dies with the agent" hold.
type spawner struct {
	pidDir string // where pid files of live processes are kept

	mu     sync.Mutex
	closed bool
	reqs   chan *exec.Cmd
	errs   chan error
	done   chan struct{}
}

func newSpawner(pidDir string) *spawner {
	s := &spawner{pidDir: pidDir, reqs: make(chan *exec.Cmd), errs: make(chan error), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	runtime.LockOSThread()
	// Never unlocked: when the loop ends this thread is retired, and any child
	// still alive then gets its Pdeathsig, which is the right failsafe.
	defer close(s.done)
	for cmd := range s.reqs {
		s.errs <- cmd.Start()
	}
}

// close stops the spawner; it must not be used afterwards.
func (s *spawner) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.reqs)
	}
	s.mu.Unlock()
	<-s.done
}

func (s *spawner) startCmd(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("node agent is shutting down")
	}
	s.reqs <- cmd
	return <-s.errs
}

// procSpec describes one container instance to start.
type procSpec struct {
	Path        string
	Argv        []string // argv[0] included
	Env         []string
	Dir         string
	LogPath     string        // CRI-format log of stdout and stderr
	MaxLogSize  int64         // rotate the log beyond this size; 0: never
	MemoryLimit int64         // bytes of RSS; 0: unlimited
	MemoryPoll  time.Duration // how often RSS is checked against the limit
}

// exitStatus is how a process ended, in container runtime terms.
type exitStatus struct {
	Code      int // exit code, or 128+signal when killed by a signal
	Signal    syscall.Signal
	OOMKilled bool
	StartedAt time.Time
	EndedAt   time.Time
}

// proc is one running container instance: the leader of its own process
// group, so signals reach everything it spawned.
type proc struct {
	pid     int
	started time.Time
	cmd     *exec.Cmd
	logs    *logWriter
	pidFile string

	oom  atomic.Bool
	mu   sync.Mutex // orders signals against reaping, so a reused pid is never signalled
	gone bool
	exit exitStatus
	done chan struct{}
}

func (s *spawner) start(spec procSpec) (*proc, error) {
	if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
		return nil, err
	}
	lw, err := openLogWriter(spec.LogPath, spec.MaxLogSize)
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		lw.close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		lw.close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:   spec.Path,
		Args:   spec.Argv,
		Env:    spec.Env,
		Dir:    spec.Dir,
		Stdout: outW,
		Stderr: errW,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	err = s.startCmd(cmd)
	// The child holds its own copies; ours must go so the readers see EOF.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		lw.close()
		return nil, err
	}
	p := &proc{
		pid:     cmd.Process.Pid,
		started: time.Now(),
		cmd:     cmd,
		logs:    lw,
		done:    make(chan struct{}),
	}
	p.pidFile = writePidFile(s.pidDir, p.pid, spec.Argv)
	lw.copyFrom(outR, "stdout")
	lw.copyFrom(errR, "stderr")
	go p.wait()
	if spec.MemoryLimit > 0 {
		poll := spec.MemoryPoll
		if poll <= 0 {
			poll = 250 * time.Millisecond
		}
		go p.watchMemory(spec.MemoryLimit, poll)
	}
	return p, nil
}

func (p *proc) wait() {
	// Wait for the exit without reaping: while the leader is a zombie its pid
	// (and so the group id) cannot be reused, so killing the group is safe.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	ended := time.Now()
	p.mu.Lock()
	// The container ends with its main process, as in a PID namespace:
	// whatever it left behind in its group goes too.
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	p.gone = true
	p.mu.Unlock()
	_ = p.cmd.Wait()

	ex := exitStatus{StartedAt: p.started, EndedAt: ended, OOMKilled: p.oom.Load()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ex.Signal = ws.Signal()
		ex.Code = 128 + int(ws.Signal())
	} else {
		ex.Code = p.cmd.ProcessState.ExitCode()
	}
	// Drain what the process wrote, but do not wait forever for a descendant
	// that escaped the group and still holds the pipes.
	p.logs.finish(2 * time.Second)
	if p.pidFile != "" {
		os.Remove(p.pidFile)
	}
	p.mu.Lock()
	p.exit = ex
	p.mu.Unlock()
	close(p.done)
}

// signal sends sig to the whole process group, unless it is already gone.
func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gone {
		_ = syscall.Kill(-p.pid, sig)
	}
}

// status returns how the process ended; valid after done is closed.
func (p *proc) status() exitStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

func (p *proc) watchMemory(limit int64, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	tree := procTree{root: p.pid}
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			tree.tick(now)
		}
		if rss, err := tree.rss(); err == nil && rss > limit {
			// Record the cause before the kill so the exit is reported as OOMKilled.
			p.oom.Store(true)
			p.signal(syscall.SIGKILL)
			return
		}
	}
}

// treeRescan is how often a memory watch looks for the descendants of a
// container's process. Walking every thread's children file is what costs
// (it was 30% of the harness's CPU when done every 250 ms per pod); reading
// the known processes' RSS is cheap. A process forked in between is counted
// at most this much later.
const treeRescan = 2 * time.Second

// procTree is a process and its descendants as last scanned.
type procTree struct {
	root    int
	kids    []int
	scanned time.Time
}

// tick rescans the descendants when the last scan is older than treeRescan.
func (t *procTree) tick(now time.Time) {
	if now.Sub(t.scanned) >= treeRescan {
		t.kids, t.scanned = descendants(t.root), now
	}
}

// rss is the resident memory of the tree, in bytes.
func (t *procTree) rss() (int64, error) {
	total, err := readRSS(t.root)
	if err != nil {
		return 0, err
	}
	for _, c := range t.kids {
		if rss, err := readRSS(c); err == nil {
			total += rss
		}
	}
	return total, nil
}

// treeRSS is the resident memory of pid and its descendants (as far as
// /proc/<pid>/task/<tid>/children can tell), in bytes.
func treeRSS(pid int) (int64, error) {
	t := procTree{root: pid}
	t.tick(time.Now())
	return t.rss()
}

// descendants of pid, breadth first, at most 255.
func descendants(pid int) []int {
	seen := map[int]bool{pid: true}
	var out []int
	queue := childrenOf(pid)
	for len(queue) > 0 && len(seen) < 256 {
		c := queue[0]
		queue = queue[1:]
		if seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
		queue = append(queue, childrenOf(c)...)
	}
	return out
}

func childrenOf(pid int) []int {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, _ := os.ReadDir(dir)
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// readRSS parses VmRSS from /proc/<pid>/status.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("pid %d: no VmRSS (exited?)", pid)
}

// Pid files let a later run kill what a killed run left behind. The file
// holds the exact /proc/<pid>/cmdline bytes, so a reused pid is never hit.

func writePidFile(dir string, pid int, argv []string) string {
	if dir == "" {
		return ""
	}
	path := filepath.Join(dir, strconv.Itoa(pid))
	if err := os.WriteFile(path, cmdlineBytes(argv), 0o644); err != nil {
		return ""
	}
	return path
}

func cmdlineBytes(argv []string) []byte {
	var b bytes.Buffer
	for _, a := range argv {
		b.WriteString(a)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// killLeftovers SIGKILLs the process groups recorded in dir whose command
// line still matches, removes the records, and waits (bounded) for the
// processes to disappear so their addresses and ports are free again.
// It returns the pids it killed.
func killLeftovers(dir string, wait time.Duration) []int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var killed []int
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 {
			os.Remove(path)
			continue
		}
		want, err1 := os.ReadFile(path)
		got, err2 := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err1 == nil && err2 == nil && len(want) > 0 && bytes.Equal(want, got) {
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			} else {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			killed = append(killed, pid)
		}
		os.Remove(path)
	}
	deadline := time.Now().Add(wait)
	for _, pid := range killed {
		for time.Now().Before(deadline) && processAlive(pid) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return killed
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}
