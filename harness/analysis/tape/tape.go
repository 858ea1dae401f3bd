// Package tape records the answers of the endpoints AI analyzers call (a
// model's chat completions, an agent's A2A API) and plays them back, so a
// run or a bench replay of an AI analyzer is cheap and repeatable once
// recorded (--llm-record DIR, --llm-replay DIR).
package tape

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/blastradius/blastradius/harness/results"
)

// Tape is one recording directory, recorded into or played back. An exchange is keyed by a
// hash of the request's method, path and body: the same prompt to the same
// model gets the same recorded answer. Request headers are never stored,
// so neither is the API key.
type Tape struct {
	Dir    string
	Replay bool              // answer from Dir; a miss is an error
	Next   http.RoundTripper // where recording sends requests; default http.DefaultTransport
}

// ErrNotRecorded is a replay's miss.
var ErrNotRecorded = errors.New("not recorded")

// exchange is one recorded request and its answer, as a file.
type exchange struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Request json.RawMessage   `json:"request"` // the request body: the prompt, never a header
	Status  int               `json:"status"`
	Header  map[string]string `json:"header,omitempty"` // Content-Type and Retry-After only
	Body    string            `json:"body"`
}

// kept are the only response headers a tape stores.
var kept = []string{"Content-Type", "Retry-After", "Retry-After-Ms"}

// Client is an http.Client that goes through the tape.
func (t *Tape) Client() *http.Client { return &http.Client{Transport: t} }

// RoundTrip answers from the tape (replay), or forwards and records.
func (t *Tape) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	key := Key(req.Method, req.URL.Path, body)
	path := filepath.Join(t.Dir, key+".json")
	if t.Replay {
		return t.play(req, path, key)
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err // nothing answered: nothing to record
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	x := exchange{Method: req.Method, Path: req.URL.Path, Request: rawJSON(body), Status: resp.StatusCode,
		Header: map[string]string{}, Body: string(answer)}
	for _, h := range kept {
		if v := resp.Header.Get(h); v != "" {
			x.Header[h] = v
		}
	}
	data, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return nil, err
	}
	// The last answer to a request wins: after retries, the one that counted.
	if err := writeExchange(path, data); err != nil {
		return nil, fmt.Errorf("tape record: %w", err)
	}
	return resp, nil
}

// writeExchange writes data to path atomically through a temporary file of
// its own, so that concurrent calls asking the same question (a bench's
// workers) never share one.
func writeExchange(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".exchange-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

func (t *Tape) play(req *http.Request, path, key string) (*http.Response, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tape replay: request %s %s (key %s) %w in %s: record it with --llm-record",
			req.Method, req.URL.Path, key, ErrNotRecorded, t.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("tape replay: %w", err)
	}
	var x exchange
	if err := json.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("tape replay: %s: %w", path, err)
	}
	resp := &http.Response{
		Status: strconv.Itoa(x.Status) + " " + http.StatusText(x.Status), StatusCode: x.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader([]byte(x.Body))), ContentLength: int64(len(x.Body)), Request: req,
	}
	for k, v := range x.Header {
		resp.Header.Set(k, v)
	}
	return resp, nil
}

// Key is the tape's key of a request: hex SHA-256 of method, path and body.
func Key(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// rawJSON keeps a JSON body as JSON in the file, anything else as a string.
func rawJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// ManifestFile describes a recording: what it was recorded against, so a
// replay asks the same questions without the flags repeated.
const ManifestFile = "tape.json"

// Manifest is a recording's ManifestFile. It holds no credential.
type Manifest struct {
	BaseURL  string `json:"baseURL,omitempty"` // the model's, user info dropped
	Model    string `json:"model,omitempty"`
	AgentURL string `json:"agentURL,omitempty"`
}

// WriteManifest writes m into dir (created if needed).
func WriteManifest(dir string, m Manifest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteAtomic(filepath.Join(dir, ManifestFile), append(data, '\n'))
}

// ReadManifest reads dir's manifest; a recording without one gives a zero
// Manifest and no error.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}
