package loadgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Record is the outcome of one request.
//
// In NDJSON (see RecordWriter) a record is one line:
//
//	{"seq":12,"t":"2025-01-02T03:04:05.123456789Z","latencyMs":1.234,"code":200,"version":"blue","user":"user-0042","failed":false}
//
// with "error" (the transport error, when there was no response),
// "aborted" (true when the request was cut short by cancelling the run) and
// "worker" (the in-cluster worker that sent it) added only when set. An empty version means the response was unattributed.
type Record struct {
	Seq     uint64        // the attack's request sequence number, from 0
	Time    time.Time     // when the request was sent
	Latency time.Duration // until the response was read, or the request failed
	Code    int           // HTTP status; 0 when there was no response
	Error   string        // transport error; set only when Code is 0
	Version string        // the response's X-Version header; "" = unattributed
	User    string        // the synthetic user, e.g. "user-0042"
	Failed  bool          // by the run's rules; see Failed
	Aborted bool          // no response because the run was cancelled
	// Worker names the in-cluster load worker that sent the request (its
	// pod); "" for a generator of the harness's own. Seq counts within it.
	Worker string
}

// Failed reports whether a request failed: no response (a transport error or
// code 0), a 4xx or 5xx status, or, when slo > 0, a latency above slo. The
// demo app answers the load's GETs with 200 or 500, so a 4xx comes from
// what stands in front of it (a router with no route: 404; a rate limit:
// 429), and its user got no answer.
func Failed(code int, latency, slo time.Duration) bool {
	return code == 0 || code >= 400 || (slo > 0 && latency > slo)
}

// newRecord converts a vegeta result. User attribution comes from the
// fragment the targeter put on the URL; aborted marks a run being cancelled,
// which makes a missing response unknown rather than failed.
func newRecord(res *vegeta.Result, slo time.Duration, aborted bool) Record {
	r := Record{
		Seq:     res.Seq,
		Time:    res.Timestamp,
		Latency: res.Latency,
		Code:    int(res.Code),
		User:    userFromURL(res.URL),
	}
	if r.Code == 0 {
		r.Error = res.Error
		if r.Error == "" {
			r.Error = "no response"
		}
		r.Aborted = aborted
	} else if v := res.Headers[VersionHeader]; len(v) > 0 {
		r.Version = v[0]
	}
	r.Failed = !r.Aborted && Failed(r.Code, r.Latency, slo)
	return r
}

// AppendJSON appends the record's NDJSON form, without the newline.
func (r *Record) AppendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"t":"`...)
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","latencyMs":`...)
	b = strconv.AppendFloat(b, float64(r.Latency)/1e6, 'f', -1, 64)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(r.Code), 10)
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	b = append(b, `,"version":`...)
	b = appendJSONString(b, r.Version)
	b = append(b, `,"user":`...)
	b = appendJSONString(b, r.User)
	b = append(b, `,"failed":`...)
	b = strconv.AppendBool(b, r.Failed)
	if r.Aborted {
		b = append(b, `,"aborted":true`...)
	}
	if r.Worker != "" {
		b = append(b, `,"worker":`...)
		b = appendJSONString(b, r.Worker)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; plain printable ASCII (the
// usual case) takes a fast path without allocating.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// MarshalJSON implements json.Marshaler with the NDJSON line format.
func (r Record) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

type recordJSON struct {
	Seq       uint64    `json:"seq"`
	T         time.Time `json:"t"`
	LatencyMs float64   `json:"latencyMs"`
	Code      int       `json:"code"`
	Error     string    `json:"error"`
	Version   string    `json:"version"`
	User      string    `json:"user"`
	Failed    bool      `json:"failed"`
	Aborted   bool      `json:"aborted"`
	Worker    string    `json:"worker"`
}

// UnmarshalJSON implements json.Unmarshaler for the NDJSON line format.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Record{
		Seq:     j.Seq,
		Time:    j.T,
		Latency: time.Duration(math.Round(j.LatencyMs * 1e6)),
		Code:    j.Code,
		Error:   j.Error,
		Version: j.Version,
		User:    j.User,
		Failed:  j.Failed,
		Aborted: j.Aborted,
		Worker:  j.Worker,
	}
	return nil
}

// RecordWriter writes records as NDJSON through a buffer. It is not safe for
// concurrent use; call Flush when done.
type RecordWriter struct {
	w   *bufio.Writer
	buf []byte
}

// NewRecordWriter returns a RecordWriter buffering writes to w.
func NewRecordWriter(w io.Writer) *RecordWriter {
	return &RecordWriter{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 256)}
}

// Write writes one record line.
func (w *RecordWriter) Write(r *Record) error {
	w.buf = append(r.AppendJSON(w.buf[:0]), '\n')
	_, err := w.w.Write(w.buf)
	return err
}

// Flush writes any buffered data.
func (w *RecordWriter) Flush() error { return w.w.Flush() }

// RecordReader reads NDJSON records as RecordWriter writes them. Blank lines
// are skipped.
type RecordReader struct {
	s    *bufio.Scanner
	line int
}

// NewRecordReader returns a RecordReader over r.
func NewRecordReader(r io.Reader) *RecordReader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 4<<20)
	return &RecordReader{s: s}
}

// Next returns the next record, or io.EOF after the last one.
func (rr *RecordReader) Next() (Record, error) {
	for rr.s.Scan() {
		rr.line++
		b := rr.s.Bytes()
		if len(b) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return Record{}, fmt.Errorf("records line %d: %w", rr.line, err)
		}
		return r, nil
	}
	if err := rr.s.Err(); err != nil {
		return Record{}, fmt.Errorf("records line %d: %w", rr.line+1, err)
	}
	return Record{}, io.EOF
}

// ReadRecords calls fn for each record in r, stopping at the first error.
func ReadRecords(r io.Reader, fn func(Record) error) error {
	rr := NewRecordReader(r)
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}
