package klogfile

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2"
)

// TestOneLinePerError: an error logged once is one line in the file, not
// one per severity.
func TestOneLinePerError(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "klog.log"))
	require.NoError(t, err)
	defer f.Close()
	To(f)
	defer Restore()
	klog.ErrorS(nil, "exec failed once")
	klog.Warning("a warning")
	klog.Flush()
	data, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(data), "exec failed once"), string(data))
	assert.Equal(t, 1, strings.Count(string(data), "a warning"), string(data))
}

func TestDiscardKeepsStderrClean(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	Discard()
	klog.ErrorS(nil, "Unable to write event (broadcaster is shut down)")
	klog.Flush()
	os.Stderr = stderr
	Restore()
	w.Close()
	out, _ := io.ReadAll(r)
	assert.Empty(t, string(out))
}
