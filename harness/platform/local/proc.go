package local

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one control-plane process. It runs in its own process group, dies
// with its parent (Pdeathsig) and leaves a pid file so that the next start can
// end what a killed run left behind.
type proc struct {
	name    string
	cmd     *exec.Cmd
	pidFile string
	logPath string
	done    chan struct{}
	err     error // exit status, valid once done is closed
}

func startProc(dir, name, bin string, args, env []string) (*proc, error) {
	logPath := filepath.Join(dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	tmp, err := procTmpDir(dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	// A temp dir that goes with the cluster: Argo's plugin runner
	// (go-plugin) puts its Unix sockets in $TMPDIR and leaves them there.
	cmd.Env = append(append(os.Environ(), "TMPDIR="+tmp), env...)
	// In the data dir, so that whatever a process writes relative to its
	// working directory (Argo's plugin-bin/) goes with the cluster.
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{}),
		pidFile: filepath.Join(dir, "pids", name+".pid")}
	if err := writePidFile(p.pidFile, cmd.Process.Pid, bin); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children of the leader may outlive it; the group goes as a whole.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = os.Remove(p.pidFile)
}

// logTail returns the last lines of the process log, for error messages.
func (p *proc) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// maxTmpDir keeps a socket path in the temp dir (go-plugin's "plugin"
// plus ten digits) under the 108 bytes a Unix socket address holds.
const maxTmpDir = 90

// procTmpDir is the control-plane processes' TMPDIR: tmp/ in the data dir,
// or, where that path is too long for a socket, a directory in the system's
// temp dir named after the data dir, which Cleanup removes too.
func procTmpDir(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "tmp")
	if len(dir) > maxTmpDir {
		dir = shortTmpDir(dataDir)
	}
	return dir, os.MkdirAll(dir, 0o700)
}

func shortTmpDir(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return filepath.Join(os.TempDir(), "blastradius-"+hex.EncodeToString(sum[:6]))
}

func writePidFile(path string, pid int, bin string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(fmt.Sprintf("%d\n%s\n", pid, bin)), 0o644)
}

// killLeftovers ends the process groups recorded in pid files by a run that
// was killed before it could clean up. A pid is only killed if it still runs
// the recorded binary, so a recycled pid is never hit.
func killLeftovers(pidDir string) ([]string, error) {
	entries, err := os.ReadDir(pidDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var killed []string
	for _, e := range entries {
		path := filepath.Join(pidDir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data))
		if len(fields) == 2 {
			if pid, err := strconv.Atoi(fields[0]); err == nil && runs(pid, fields[1]) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				waitGone(pid, 5*time.Second)
				killed = append(killed, fmt.Sprintf("%s (pid %d)", strings.TrimSuffix(e.Name(), ".pid"), pid))
			}
		}
		_ = os.Remove(path)
	}
	return killed, nil
}

// runs reports whether pid is alive and executes bin.
func runs(pid int, bin string) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	return exe == bin
}

func waitGone(pid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
