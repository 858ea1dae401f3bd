package strategy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/blastradius/blastradius/harness/strategy"
)

// argoModule is the controller release the platforms run; its CRDs are in
// the module cache once `make tools` has built the controller.
const argoModule = "github.com/argoproj/argo-rollouts@v1.10.2"

// schema is the part of an OpenAPI v3 schema that structural CRDs use.
type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Required             []string           `json:"required"`
	PreserveUnknown      bool               `json:"x-kubernetes-preserve-unknown-fields"`
	IntOrString          bool               `json:"x-kubernetes-int-or-string"`
	Enum                 []any              `json:"enum"`
}

func loadCRDSchema(t *testing.T, file string) *schema {
	t.Helper()
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		require.NoError(t, err)
		cache = strings.TrimSpace(string(out))
	}
	b, err := os.ReadFile(filepath.Join(cache, argoModule, "manifests", "crds", file))
	if os.IsNotExist(err) {
		t.Skipf("Argo Rollouts CRDs not in the module cache (run make tools): %v", err)
	}
	require.NoError(t, err)
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema *schema `json:"openAPIV3Schema"`
				}
			}
		}
	}
	require.NoError(t, yaml.Unmarshal(b, &crd))
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1alpha1" {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("%s has no v1alpha1 schema", file)
	return nil
}

// check walks a value against a schema and reports every field the API
// server would prune (silently, under server-side apply) or reject.
func check(path string, v any, s *schema) []string {
	if s.IntOrString {
		switch v.(type) {
		case int64, string:
			return nil
		}
		return []string{fmt.Sprintf("%s: %T is not an int or string", path, v)}
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", path, v, s.Enum)}
	}
	var errs []string
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T is not an object", path, v)}
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required field %s missing", path, r))
			}
		}
		var additional *schema
		if len(s.AdditionalProperties) > 0 && string(s.AdditionalProperties) != "true" {
			additional = &schema{}
			if err := json.Unmarshal(s.AdditionalProperties, additional); err != nil {
				return []string{fmt.Sprintf("%s: additionalProperties: %v", path, err)}
			}
		}
		for k, fv := range m {
			switch sub := s.Properties[k]; {
			case sub != nil:
				errs = append(errs, check(path+"."+k, fv, sub)...)
			case additional != nil:
				errs = append(errs, check(path+"."+k, fv, additional)...)
			case s.PreserveUnknown || string(s.AdditionalProperties) == "true":
			default:
				errs = append(errs, fmt.Sprintf("%s.%s: unknown field", path, k))
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T is not an array", path, v)}
		}
		for i, e := range l {
			errs = append(errs, check(fmt.Sprintf("%s[%d]", path, i), e, s.Items)...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T is not a string", path, v))
		}
	case "integer":
		if _, ok := v.(int64); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T is not an integer", path, v))
		}
	case "number":
		switch v.(type) {
		case int64, float64:
		default:
			errs = append(errs, fmt.Sprintf("%s: %T is not a number", path, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T is not a boolean", path, v))
		}
	}
	return errs
}

// TestArgoSchema checks every Rollout and AnalysisTemplate rendered against
// the CRDs of the Argo release the platforms install.
func TestArgoSchema(t *testing.T) {
	schemas := map[string]*schema{
		"Rollout":          loadCRDSchema(t, "rollout-crd.yaml"),
		"AnalysisTemplate": loadCRDSchema(t, "analysis-template-crd.yaml"),
	}
	// The walker itself must catch a typo.
	require.Equal(t, []string{".spec.replicaz: unknown field"},
		check("", map[string]any{"spec": map[string]any{"replicaz": int64(1)}}, schemas["Rollout"]))

	for _, name := range strategy.Names() {
		for _, obj := range render(t, name, params(name, candidateImage)) {
			s, ok := schemas[obj.GetKind()]
			if !ok {
				continue
			}
			// The API server validates metadata itself; the CRD leaves it open.
			for _, e := range check(obj.GetKind()+".spec", obj.Object["spec"], s.Properties["spec"]) {
				t.Errorf("%s: %s", name, e)
			}
		}
	}
}
