package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/blastradius/blastradius/demoapp"
	"github.com/blastradius/blastradius/demoapp/catalog"
)

// run executes the CLI with args and returns stdout and the error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func keys(m map[string]json.RawMessage) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// The JSON shapes below are fixed names that scripts outside the repo rely on.
func TestImagesListJSONShape(t *testing.T) {
	out, err := run(t, "images", "list", "--json")
	require.NoError(t, err)
	var entries []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	require.Len(t, entries, len(catalog.All()))
	for _, e := range entries {
		assert.Equal(t, []string{"color", "description", "good", "tag"}, keys(e))
	}
	var first struct {
		Tag   string `json:"tag"`
		Color string `json:"color"`
		Good  bool   `json:"good"`
	}
	require.NoError(t, json.Unmarshal(mustJSON(t, entries[0]), &first))
	assert.Equal(t, "blue", first.Tag)
	assert.True(t, first.Good)
}

func TestImagesBuildWritesTarballs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "demoapp")
	require.NoError(t, os.WriteFile(bin, []byte("binary"), 0o755))
	out, err := run(t, "images", "build", "--out", filepath.Join(dir, "out"), "--binary", bin, "--tag", "blue", "--tag", "bad-green")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "out", "blue.tar")+"\n"+filepath.Join(dir, "out", "bad-green.tar")+"\n", out)

	_, err = run(t, "images", "build", "--out", dir, "--binary", bin, "--tag", "magenta")
	require.ErrorContains(t, err, `--tag: no demo app version "magenta"`)
	_, err = run(t, "images", "build", "--binary", bin)
	require.ErrorContains(t, err, "--out")
}

func TestLoadJSONShape(t *testing.T) {
	app, err := demoapp.New(demoapp.Config{Color: "green", Version: "bad-green", Seed: 1,
		Faults: demoapp.Faults{ErrorRate: 0.5}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer app.Close()
	srv := httptest.NewServer(app)
	defer srv.Close()

	out, err := run(t, "load", "--url", srv.URL+"/color", "--rate", "100", "--duration", "1s", "--users", "10", "--json")
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &top))
	for _, k := range []string{"total", "unattributed", "versions"} {
		assert.Contains(t, top, k)
	}
	var res struct {
		Total        int64 `json:"total"`
		Unattributed int64 `json:"unattributed"`
		Versions     map[string]map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Contains(t, res.Versions, "bad-green")
	assert.Equal(t, []string{"failures", "p50Ms", "p99Ms", "requests"}, keys(res.Versions["bad-green"]))
	var v struct{ Requests, Failures int64 }
	require.NoError(t, json.Unmarshal(mustJSON(t, res.Versions["bad-green"]), &v))
	assert.Equal(t, res.Total, v.Requests+res.Unattributed)
	assert.InDelta(t, 100, res.Total, 5)
	assert.InDelta(t, 0.5, float64(v.Failures)/float64(v.Requests), 0.2)
}

func TestLoadBadFlagsNameTheFlag(t *testing.T) {
	_, err := run(t, "load", "--url", "http://127.0.0.1:1/", "--rate", "-5", "--duration", "1s")
	require.ErrorContains(t, err, "--rate")
	_, err = run(t, "load", "--rate", "5", "--duration", "1s")
	require.ErrorContains(t, err, "--url")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
