package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// This file runs commands "in" a running container: exec probes, exec
// lifecycle hooks and `kubectl exec`. There is no container to enter, so a
// command runs as a local process with what a container would give it: the
// instance's environment and working directory, and its program resolved as
// the container's own command is (the image's program by name, else the
// container's PATH on this host).

// execRequest is one command to run beside a container instance.
type execRequest struct {
	Argv      []string
	Env       []string
	Dir       string
	ImagePath string // the image's program, which argv[0] may name
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
}

// errExecTimeout is returned when ctx ended before the command did.
var errExecTimeout = errors.New("timed out")

// execWaitDelay bounds how long output is drained after the command exits,
// in case a descendant it left behind holds the pipes.
const execWaitDelay = time.Second

// run starts the command in its own process group (so a timeout ends all of
// it and nothing of the container) and waits for it. It returns the exit
// code, 128+signal for a signalled command as a runtime reports it. An error
// means the command did not run to an exit: not found, or ctx ended.
func (s *spawner) run(ctx context.Context, r execRequest) (int, error) {
	if len(r.Argv) == 0 || r.Argv[0] == "" {
		return 0, errors.New("exec: no command")
	}
	prog, err := resolveProgram(r.Argv[0], r.ImagePath, pathOf(r.Env))
	if err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{
		Path: prog, Args: append([]string{prog}, r.Argv[1:]...),
		Env: r.Env, Dir: r.Dir,
		Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr,
		WaitDelay:   execWaitDelay,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	if err := s.startCmd(cmd); err != nil {
		return 0, fmt.Errorf("exec %s: %w", r.Argv[0], err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return 0, errExecTimeout
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return 128 + int(ws.Signal()), nil
	case cmd.ProcessState != nil:
		return cmd.ProcessState.ExitCode(), nil
	}
	return 0, err
}

// pathOf is the PATH of env, or the runtime's default.
func pathOf(env []string) string {
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return path
}

// limitedBuffer keeps the first max bytes written to it, as the kubelet
// keeps the first 10 KiB of an exec probe's output.
type limitedBuffer struct {
	buf []byte
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return string(b.buf) }
