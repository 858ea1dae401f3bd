package llm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blastradius/blastradius/harness/analysis/tape"
	"github.com/blastradius/blastradius/harness/analyzer"
)

// TestTapeRecordsAndReplays: a recording of a scripted server (hand-written
// answers, not a model's) replays the same decision with the server gone,
// stores no header and so no key, and a replay miss is a clear error.
func TestTapeRecordsAndReplays(t *testing.T) {
	dir := t.TempDir()
	f := newFake(t, reply{status: 429, header: map[string]string{"Retry-After": "0"}}, reply{content: failAnswer})
	rec := f.client(t, func(c *Config) { c.HTTPClient = (&tape.Tape{Dir: dir}).Client() })
	first := judge(t, rec)
	if first.Verdict != analyzer.Fail || first.Call.Retries != 1 {
		t.Fatalf("recorded decision: %+v", first)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("want one exchange (the retry overwrites the 429), got %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{testKey, "Authorization", "Bearer"} {
		if strings.Contains(string(data), secret) {
			t.Fatalf("the tape stored %q", secret)
		}
	}
	if !strings.Contains(string(data), `"status": 200`) || !strings.Contains(string(data), "untrustedLogs") {
		t.Fatalf("the tape lacks the answer or the prompt: %s", data)
	}

	f.srv.Close()
	play := f.client(t, func(c *Config) { c.HTTPClient = (&tape.Tape{Dir: dir, Replay: true}).Client() })
	again := judge(t, play)
	if again.Verdict != first.Verdict || again.Call.Raw != first.Call.Raw || again.Answer.Category != first.Answer.Category {
		t.Fatalf("replayed %+v, recorded %+v", again, first)
	}

	// Another prompt was never recorded: the replay says so, and the
	// decision follows the failure policy rather than inventing an answer.
	ev := testEvidence()
	ev.SLO.MaxP99Seconds = 7
	d, err := play.Judge(context.Background(), ev)
	if err == nil && d.Failure == "" {
		t.Fatalf("a miss must not answer: %+v", d)
	}
	msg := d.Reason
	if err != nil {
		msg += err.Error()
	}
	if !strings.Contains(msg, "not recorded") && !errors.Is(err, tape.ErrNotRecorded) {
		t.Fatalf("a miss should say it was not recorded: %q", msg)
	}
}

func TestTapeKey(t *testing.T) {
	a := tape.Key("POST", "/v1/chat/completions", []byte(`{"a":1}`))
	if a != tape.Key("POST", "/v1/chat/completions", []byte(`{"a":1}`)) || len(a) != 64 {
		t.Fatal("keys are stable hex SHA-256")
	}
	if a == tape.Key("POST", "/v1/chat/completions", []byte(`{"a":2}`)) || a == tape.Key("POST", "/v2/chat/completions", []byte(`{"a":1}`)) {
		t.Fatal("body and path are in the key")
	}
}
