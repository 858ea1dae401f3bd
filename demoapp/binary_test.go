package demoapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinary builds cmd/demoapp and runs it as a real process.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "demoapp")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/demoapp")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// start runs the binary on a free loopback port given by POD_IP and PORT,
	// or by --listen, which must win over them.
	start := func(t *testing.T, withFlag bool, env ...string) (cmd *exec.Cmd, base string, stdout, stderr *bytes.Buffer) {
		port := strconv.Itoa(freePort(t))
		cmd = exec.Command(bin)
		cmd.Env = append(os.Environ(), "LISTEN=", "POD_IP=127.0.0.1", "PORT="+port)
		if withFlag {
			port = strconv.Itoa(freePort(t))
			cmd.Args = append(cmd.Args, "--listen", "127.0.0.1:"+port)
		}
		cmd.Env = append(cmd.Env, env...)
		stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			if cmd.ProcessState == nil { // the test failed before waiting
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return cmd, "http://127.0.0.1:" + port, stdout, stderr
	}
	// wait returns the exit code, killing the process if it outlives timeout.
	wait := func(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode()
			}
			require.NoError(t, err)
			return 0
		case <-time.After(timeout):
			cmd.Process.Kill()
			<-done
			t.Fatalf("process did not exit within %v", timeout)
			return -1
		}
	}
	client := &http.Client{Timeout: 2 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	t.Run("serves and stops on SIGTERM", func(t *testing.T) {
		cmd, base, stdout, _ := start(t, false, "COLOR=purple", "VERSION=v9", "POD_NAME=demo-9", "SEED=1",
			"TERMINATION_DELAY=100ms")
		var resp *http.Response
		require.Eventually(t, func() bool {
			var err error
			resp, err = client.Get(base + "/color")
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "v9", resp.Header.Get("X-Version"))
		assert.Equal(t, "purple", resp.Header.Get("X-Color"))
		var body map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		assert.Equal(t, map[string]string{"color": "purple", "version": "v9", "pod": "demo-9"}, body)

		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, wait(t, cmd, 10*time.Second))
		assert.Contains(t, stdout.String(), `"msg":"terminating"`)
	})

	up := func(t *testing.T, base string) {
		require.Eventually(t, func() bool {
			resp, err := client.Get(base + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
	}

	t.Run("crash path exits 2", func(t *testing.T) {
		cmd, base, _, stderr := start(t, true, "CRASH_PATH=/boom")
		up(t, base)
		if resp, err := client.Get(base + "/boom"); err == nil {
			resp.Body.Close()
		}
		assert.Equal(t, 2, wait(t, cmd, 10*time.Second))
		assert.Contains(t, stderr.String(), `"level":"FATAL"`)
	})

	t.Run("crash after 3 requests exits 2", func(t *testing.T) {
		cmd, base, _, stderr := start(t, false, "CRASH_AFTER=3")
		up(t, base)
		for i := range 3 {
			resp, err := client.Get(base + "/color")
			require.NoError(t, err, "request %d", i+1)
			var body map[string]string
			assert.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "request %d is answered in full", i+1)
			resp.Body.Close()
		}
		assert.Equal(t, 2, wait(t, cmd, 10*time.Second))
		assert.Contains(t, stderr.String(), "index out of range")
	})

	t.Run("crash on start exits 1", func(t *testing.T) {
		cmd, _, _, stderr := start(t, false, "CRASH_ON_START=true")
		assert.Equal(t, 1, wait(t, cmd, 10*time.Second))
		assert.Contains(t, stderr.String(), "failed to initialize")
	})

	t.Run("bad env names the variable", func(t *testing.T) {
		cmd, _, _, stderr := start(t, false, "ERROR_RATE=lots")
		assert.Equal(t, 1, wait(t, cmd, 10*time.Second))
		assert.Contains(t, stderr.String(), "ERROR_RATE: invalid number")
	})
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
