// Package chaos injects failures on an AI analyzer's path to its model or
// agent: an http.RoundTripper that, per results.Chaos mode, refuses the
// connection, hangs until the call's context ends, answers 429 or 500 in
// the API's error shape, answers garbage, or passes the request on and
// mangles the real answer (its JSON put in prose or a code fence, or its
// promote field removed). The analyzer's own client code meets these
// failures exactly as it would meet them from a real server, so a run
// measures what its failure policy makes of them.
package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/blastradius/blastradius/harness/results"
)

// API is the wire format of the answers a Transport mangles.
type API int

const (
	OpenAI API = iota // chat completions: the answer is choices[0].message.content
	A2A               // the agent API: the answer is the body
)

// RetryAfter is what an injected 429 asks the client to wait.
const RetryAfter = time.Second

// Transport injects Mode on every request; ChaosNone passes them through.
type Transport struct {
	Mode results.Chaos
	API  API
	Next http.RoundTripper // default http.DefaultTransport
}

// Wrap is c with its transport behind a Transport of mode m (c unchanged
// when m is none).
func Wrap(c *http.Client, m results.Chaos, api API) *http.Client {
	if m == results.ChaosNone {
		return c
	}
	var next http.RoundTripper
	if c != nil {
		next = c.Transport
	}
	out := &http.Client{Transport: &Transport{Mode: m, API: api, Next: next}}
	if c != nil {
		out.Timeout, out.CheckRedirect, out.Jar = c.Timeout, c.CheckRedirect, c.Jar
	}
	return out
}

// RoundTrip injects the mode.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && !t.Mode.NeedsAnswer() && t.Mode != results.ChaosNone {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	switch t.Mode {
	case results.ChaosNone:
		return t.next().RoundTrip(req)
	case results.ChaosDown:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	case results.ChaosSlow:
		<-req.Context().Done()
		return nil, req.Context().Err()
	case results.ChaosRateLimited:
		r := respond(req, http.StatusTooManyRequests, `{"error":{"message":"Rate limit reached (injected by blastradius chaos)","type":"requests","code":"rate_limit_exceeded"}}`)
		r.Header.Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
		return r, nil
	case results.ChaosServerError:
		return respond(req, http.StatusInternalServerError, `{"error":{"message":"The server had an error while processing your request (injected by blastradius chaos)","type":"server_error"}}`), nil
	case results.ChaosGarbage:
		return respond(req, http.StatusOK, "<html><body>\x00\x01 upstream answered something else entirely (injected by blastradius chaos)</body></html>"), nil
	case results.ChaosProse, results.ChaosFenced, results.ChaosNoPromote:
		return t.mangle(req)
	}
	return nil, fmt.Errorf("chaos: unknown mode %q", t.Mode)
}

func (t *Transport) next() http.RoundTripper {
	if t.Next != nil {
		return t.Next
	}
	return http.DefaultTransport
}

// mangle passes the request on and rewrites a 200 answer's JSON.
func (t *Transport) mangle(req *http.Request) (*http.Response, error) {
	resp, err := t.next().RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	out, err := t.rewrite(body)
	if err != nil {
		out = body // not the API's shape: leave it, the client says why
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (t *Transport) rewrite(body []byte) ([]byte, error) {
	if t.API == A2A {
		return []byte(mangleAnswer(t.Mode, string(body))), nil
	}
	var comp map[string]any
	if err := json.Unmarshal(body, &comp); err != nil {
		return nil, err
	}
	choices, _ := comp["choices"].([]any)
	if len(choices) == 0 {
		return nil, fmt.Errorf("no choices")
	}
	ch, _ := choices[0].(map[string]any)
	msg, _ := ch["message"].(map[string]any)
	content, ok := msg["content"].(string)
	if !ok {
		return nil, fmt.Errorf("no content")
	}
	msg["content"] = mangleAnswer(t.Mode, content)
	return json.Marshal(comp)
}

// mangleAnswer rewrites one answer text.
func mangleAnswer(m results.Chaos, answer string) string {
	switch m {
	case results.ChaosProse:
		return "Sure! I looked at the canary carefully. Here is my assessment: " + answer + " Let me know if you need anything else."
	case results.ChaosFenced:
		return "```json\n" + answer + "\n```"
	case results.ChaosNoPromote:
		var obj map[string]any
		if err := json.Unmarshal([]byte(answer), &obj); err != nil {
			return answer
		}
		delete(obj, "promote")
		b, _ := json.Marshal(obj)
		return string(b)
	}
	return answer
}

func respond(req *http.Request, status int, body string) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)), Request: req,
	}
}
