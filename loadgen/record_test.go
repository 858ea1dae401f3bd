package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleRecords() []Record {
	loc := time.FixedZone("X", 3600)
	return []Record{
		{Seq: 0, Time: t0.Add(123456789), Latency: 1234567, Code: 200, Version: "blue", User: "user-0042"},
		{Seq: 1, Time: t0.Add(time.Second), Latency: 0, Code: 503, Version: "green", User: "user-0000", Failed: true},
		{Seq: 2, Time: t0.Add(2 * time.Second).In(loc), Latency: 10 * time.Second, Code: 0,
			Error: "Get \"http://x/\": read tcp: connection reset\n\tby \\peer", User: "user-9999", Failed: true},
		{Seq: 3, Time: t0.Add(3 * time.Second), Latency: 17, Code: 502, User: "user-0001", Failed: true},
		{Seq: 4, Time: t0.Add(4 * time.Second), Latency: 3 * time.Millisecond, Code: 0, Error: "net/http: request canceled",
			User: "user-0007", Aborted: true},
		{Seq: 5, Time: t0, Latency: 59*time.Second + 999999999, Code: 200, Version: "vé\"rsion<1>", User: "user-12345"},
		{Seq: 5, Time: t0, Latency: time.Millisecond, Code: 200, Version: "blue", User: "user-0003", Worker: "load-worker-1"},
	}
}

func TestRecordLineFormat(t *testing.T) {
	r := sampleRecords()[0]
	line := string(r.AppendJSON(nil))
	assert.Equal(t, `{"seq":0,"t":"2025-01-02T03:04:05.123456789Z","latencyMs":1.234567,"code":200,"version":"blue","user":"user-0042","failed":false}`, line)

	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &m))
	assert.Equal(t, "2025-01-02T03:04:05.123456789Z", m["t"])
	assert.Equal(t, 1.234567, m["latencyMs"])
	assert.Equal(t, 200.0, m["code"])
	assert.Equal(t, "blue", m["version"])
	assert.Equal(t, "user-0042", m["user"])
	assert.NotContains(t, m, "error")
	assert.NotContains(t, m, "aborted")

	// Unattributed responses keep an explicit empty version; errors and
	// aborts appear when set.
	rs := sampleRecords()
	assert.Contains(t, string(rs[3].AppendJSON(nil)), `"version":"","user":"user-0001","failed":true}`)
	assert.Contains(t, string(rs[4].AppendJSON(nil)), `"error":"net/http: request canceled"`)
	assert.Contains(t, string(rs[4].AppendJSON(nil)), `"failed":false,"aborted":true}`)
	assert.Contains(t, string(rs[6].AppendJSON(nil)), `"failed":false,"worker":"load-worker-1"}`)
	assert.NotContains(t, line, "worker")
	// Times are written in UTC.
	assert.Contains(t, string(rs[2].AppendJSON(nil)), `"t":"2025-01-02T03:04:07Z"`)
}

func TestRecordsRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewRecordWriter(&buf)
	want := sampleRecords()
	for i := range want {
		require.NoError(t, w.Write(&want[i]))
	}
	assert.Zero(t, buf.Len(), "buffered until flushed")
	require.NoError(t, w.Flush())
	assert.Equal(t, len(want), strings.Count(buf.String(), "\n"))
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		assert.True(t, json.Valid([]byte(line)), line)
	}

	var got []Record
	require.NoError(t, ReadRecords(bytes.NewReader(buf.Bytes()), func(r Record) error {
		got = append(got, r)
		return nil
	}))
	require.Len(t, got, len(want))
	for i := range want {
		assert.True(t, want[i].Time.Equal(got[i].Time), "%d: %s vs %s", i, want[i].Time, got[i].Time)
		want[i].Time, got[i].Time = time.Time{}, time.Time{}
		assert.Equal(t, want[i], got[i], "record %d", i)
	}

	// encoding/json uses the same format.
	b, err := json.Marshal(sampleRecords()[1])
	require.NoError(t, err)
	var r Record
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, int64(503), int64(r.Code))
}

func TestRecordReader(t *testing.T) {
	in := "\n" + `{"seq":1,"t":"2025-01-02T03:04:05Z","latencyMs":2.5,"code":200,"version":"a","user":"user-0001","failed":false}` +
		"\n\n" + `{"seq":2,"t":"2025-01-02T03:04:06Z","latencyMs":1,"code":0,"error":"x","version":"","user":"user-0002","failed":true}` + "\n" +
		`{"seq":3,` + "\n"
	rr := NewRecordReader(strings.NewReader(in))
	r, err := rr.Next()
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Microsecond, r.Latency)
	assert.Equal(t, "a", r.Version)
	r, err = rr.Next()
	require.NoError(t, err)
	assert.Equal(t, "x", r.Error)
	assert.True(t, r.Failed)
	_, err = rr.Next()
	assert.ErrorContains(t, err, "records line 5")

	rr = NewRecordReader(strings.NewReader(""))
	_, err = rr.Next()
	assert.ErrorIs(t, err, io.EOF)

	stop := errors.New("stop")
	n := 0
	err = ReadRecords(strings.NewReader(in), func(Record) error { n++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n)
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestRecordWriterError(t *testing.T) {
	w := NewRecordWriter(&failingWriter{after: 10})
	r := sampleRecords()[0]
	require.NoError(t, w.Write(&r))
	assert.ErrorContains(t, w.Flush(), "disk full")
}
