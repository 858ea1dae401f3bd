package llm

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"testing"
)

func TestConfigFromEnvAndOverride(t *testing.T) {
	t.Setenv(EnvBaseURL, "http://env.invalid/v1")
	t.Setenv(EnvModel, "env-model")
	t.Setenv(EnvAPIKey, testKey)
	c := ConfigFromEnv()
	if c.BaseURL != "http://env.invalid/v1" || c.Model != "env-model" || string(c.APIKey) != testKey {
		t.Errorf("%v", c)
	}
	c = Config{Model: "explicit"}.WithEnv()
	if c.Model != "explicit" || c.BaseURL != "http://env.invalid/v1" {
		t.Errorf("%v", c)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{BaseURL: "http://x/v1", Model: "m"}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{APIKey: testKey, PromptPricePerMTok: -1, CompletionPricePerMTok: -2, Policy: "yolo"}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 5 {
		t.Errorf("want 5 problems, got %q", lines)
	}
	for _, want := range []string{"no base URL", "no model", "prompt price", "completion price", `policy "yolo"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), testKey) {
		t.Error("key in error")
	}
	if _, err := New(Config{BaseURL: "ftp://x", Model: "m", APIKey: testKey}); err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("New: %v", err)
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	c := Config{BaseURL: "http://x/v1", Model: "m", APIKey: testKey}
	var logged strings.Builder
	l := log.New(&logged, "", 0)
	l.Printf("%v %+v %#v %s %q %x %d", c, c, c, c.APIKey, c.APIKey, c.APIKey, c.APIKey)
	l.Print(c)
	b, _ := json.Marshal(c)
	all := logged.String() + string(b) + c.String() + fmt.Sprint(c.APIKey)
	if strings.Contains(all, testKey) || strings.Contains(all, fmt.Sprintf("%x", testKey)) {
		t.Fatalf("key leaked: %s", all)
	}
	if !strings.Contains(all, redacted) {
		t.Errorf("no redaction marker: %s", all)
	}
}

func TestPolicyVerdicts(t *testing.T) {
	for p, want := range map[Policy]string{"": "inconclusive", PolicyInconclusive: "inconclusive", PolicyFailOpen: "pass", PolicyFailClosed: "fail"} {
		if got := string(p.Verdict()); got != want {
			t.Errorf("%q: %s, want %s", p, got, want)
		}
	}
}
