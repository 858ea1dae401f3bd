package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
)

// writeLog writes text through a logWriter fed by a pipe, as a process would.
func writeLog(t *testing.T, path string, max int64, text string) {
	t.Helper()
	w, err := openLogWriter(path, max)
	require.NoError(t, err)
	r, wp, err := os.Pipe()
	require.NoError(t, err)
	w.copyFrom(r, "stdout")
	_, err = io.WriteString(wp, text)
	require.NoError(t, err)
	wp.Close()
	w.finish(time.Second)
}

func readLog(t *testing.T, path string, o api.ContainerLogOpts) string {
	t.Helper()
	ended := make(chan struct{})
	close(ended)
	rc := openLogStream(context.Background(), path, resolveLogOptions(o, time.Now()), ended)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

func TestLogFormatAndOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	writeLog(t, path, 0, "one\ntwo\nthree\nno newline at the end")

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	first := strings.SplitN(string(raw), "\n", 2)[0]
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\S+Z stdout F one$`, first, "CRI log format")

	assert.Equal(t, "one\ntwo\nthree\nno newline at the end\n", readLog(t, path, api.ContainerLogOpts{}))
	assert.Equal(t, "three\nno newline at the end\n", readLog(t, path, api.ContainerLogOpts{Tail: 2}))
	assert.Equal(t, "one\ntw", readLog(t, path, api.ContainerLogOpts{LimitBytes: 6}))
	assert.Equal(t, "thr", readLog(t, path, api.ContainerLogOpts{Tail: 2, LimitBytes: 3}))

	ts := readLog(t, path, api.ContainerLogOpts{Tail: 1, Timestamps: true})
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\S+Z no newline at the end\n$`, ts)

	assert.Equal(t, "", readLog(t, path, api.ContainerLogOpts{SinceTime: time.Now().Add(time.Hour)}))
	assert.Equal(t, "one\ntwo\nthree\nno newline at the end\n", readLog(t, path, api.ContainerLogOpts{SinceSeconds: 60}))
}

func TestLogLongLinesAreSplitAndJoined(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	long := strings.Repeat("x", 3*logChunk+5)
	writeLog(t, path, 0, long+"\nshort\n")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(raw), " stdout P ", "a long line is stored in fragments")
	assert.Equal(t, long+"\nshort\n", readLog(t, path, api.ContainerLogOpts{}))
	assert.Equal(t, long+"\nshort\n", readLog(t, path, api.ContainerLogOpts{Tail: 2}), "tail counts whole lines")
}

func TestLogRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	var text strings.Builder
	for i := range 200 {
		fmt.Fprintf(&text, "line %03d\n", i)
	}
	writeLog(t, path, 2000, text.String())
	_, err := os.Stat(path + ".1")
	require.NoError(t, err, "the log was rotated")
	got := readLog(t, path, api.ContainerLogOpts{})
	assert.True(t, strings.HasSuffix(got, "line 199\n"))
	assert.Equal(t, "line 198\nline 199\n", readLog(t, path, api.ContainerLogOpts{Tail: 2}))
}

func TestLogFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := openLogWriter(path, 0)
	require.NoError(t, err)
	r, wp, err := os.Pipe()
	require.NoError(t, err)
	w.copyFrom(r, "stderr")
	_, _ = io.WriteString(wp, "before\n")
	time.Sleep(50 * time.Millisecond)

	ended := make(chan struct{})
	rc := openLogStream(context.Background(), path, logReadOptions{follow: true}, ended)
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(rc)
		out <- string(b)
	}()
	time.Sleep(300 * time.Millisecond)
	_, _ = io.WriteString(wp, "after\n")
	wp.Close()
	w.finish(time.Second)
	close(ended) // the instance exited: follow ends after draining
	select {
	case got := <-out:
		assert.Equal(t, "before\nafter\n", got)
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end with the container")
	}
	rc.Close()

	// Closing the reader ends a follow that would otherwise never end.
	forever := make(chan struct{})
	rc = openLogStream(context.Background(), path, logReadOptions{follow: true}, forever)
	buf := make([]byte, 64)
	n, err := rc.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "before\n", string(buf[:n]))
	require.NoError(t, rc.Close())
}
