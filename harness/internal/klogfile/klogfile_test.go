package klogfile

import (
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
