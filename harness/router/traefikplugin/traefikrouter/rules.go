package traefikrouter

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

// This file turns Argo's match types into Traefik v3 rule expressions
// (https://doc.traefik.io/traefik/v3.6/reference/routing-configuration/http/routing/rules-and-priority/).
// Traefik evaluates the rules' matchers with Go's regexp package; Header and
// Method matches are exact, HeaderRegexp/PathRegexp are unanchored searches.

// quote renders a rule argument: a raw `string` unless it holds a backtick,
// then a double-quoted Go string (Traefik's rule parser accepts both).
func quote(s string) string {
	if !strings.Contains(s, "`") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// validHeaderName reports whether name is an HTTP field name (RFC 9110 token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_|~", r):
		default:
			return false
		}
	}
	return true
}

// oneOf returns which of exact, prefix and regex a StringMatch sets, or an
// error unless exactly one is set.
func oneOf(m *v1alpha1.StringMatch, what string) (kind, value string, err error) {
	if m == nil {
		return "", "", fmt.Errorf("%s: no value to match (set one of exact, prefix, regex)", what)
	}
	set := 0
	if m.Exact != "" {
		set++
		kind, value = "exact", m.Exact
	}
	if m.Prefix != "" {
		set++
		kind, value = "prefix", m.Prefix
	}
	if m.Regex != "" {
		set++
		kind, value = "regex", m.Regex
	}
	switch set {
	case 0:
		return "", "", fmt.Errorf("%s: no value to match (set one of exact, prefix, regex)", what)
	case 1:
		return kind, value, nil
	default:
		return "", "", fmt.Errorf("%s: set only one of exact, prefix, regex", what)
	}
}

// headerCondition renders one header match:
// exact → Header(`name`, `value`); prefix → HeaderRegexp(`name`, `^quoted-prefix`);
// regex → HeaderRegexp(`name`, `regex`) (unanchored, as Traefik matches it).
func headerCondition(name string, m *v1alpha1.StringMatch) (string, error) {
	what := fmt.Sprintf("header %q", name)
	if !validHeaderName(name) {
		return "", fmt.Errorf("%s: not a valid HTTP header name", what)
	}
	kind, value, err := oneOf(m, what)
	if err != nil {
		return "", err
	}
	switch kind {
	case "exact":
		return fmt.Sprintf("Header(%s, %s)", quote(name), quote(value)), nil
	case "prefix":
		return fmt.Sprintf("HeaderRegexp(%s, %s)", quote(name), quote("^"+regexp.QuoteMeta(value))), nil
	default:
		if _, err := regexp.Compile(value); err != nil {
			return "", fmt.Errorf("%s: regex %q does not compile: %v", what, value, err)
		}
		return fmt.Sprintf("HeaderRegexp(%s, %s)", quote(name), quote(value)), nil
	}
}

// HeaderRouteCondition renders a setHeaderRoute's matches, all of which must
// hold (they are ANDed).
func HeaderRouteCondition(matches []v1alpha1.HeaderRoutingMatch) (string, error) {
	if len(matches) == 0 {
		return "", errors.New("no header to match")
	}
	conds := make([]string, 0, len(matches))
	for i, m := range matches {
		c, err := headerCondition(m.HeaderName, m.HeaderValue)
		if err != nil {
			return "", fmt.Errorf("match[%d]: %w", i, err)
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, " && "), nil
}

// httpMethods are the methods a method prefix or regex is expanded over:
// Traefik has no regexp matcher for methods.
var httpMethods = []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}

func methodCondition(m *v1alpha1.StringMatch) (string, error) {
	kind, value, err := oneOf(m, "method")
	if err != nil {
		return "", err
	}
	var methods []string
	switch kind {
	case "exact":
		if !validHeaderName(value) { // a method is a token too
			return "", fmt.Errorf("method: %q is not a valid HTTP method", value)
		}
		return fmt.Sprintf("Method(%s)", quote(strings.ToUpper(value))), nil
	case "prefix":
		for _, meth := range httpMethods {
			if strings.HasPrefix(meth, strings.ToUpper(value)) {
				methods = append(methods, meth)
			}
		}
	default:
		re, err := regexp.Compile(value)
		if err != nil {
			return "", fmt.Errorf("method: regex %q does not compile: %v", value, err)
		}
		for _, meth := range httpMethods {
			if re.MatchString(meth) {
				methods = append(methods, meth)
			}
		}
	}
	if len(methods) == 0 {
		return "", fmt.Errorf("method: %s %q matches none of the standard methods %v", kind, value, httpMethods)
	}
	conds := make([]string, len(methods))
	for i, meth := range methods {
		conds[i] = fmt.Sprintf("Method(%s)", quote(meth))
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	return "(" + strings.Join(conds, " || ") + ")", nil
}

// pathCondition renders exact → Path, prefix → PathPrefix, regex → PathRegexp.
func pathCondition(m *v1alpha1.StringMatch) (string, error) {
	kind, value, err := oneOf(m, "path")
	if err != nil {
		return "", err
	}
	switch kind {
	case "exact", "prefix":
		if !strings.HasPrefix(value, "/") {
			return "", fmt.Errorf("path: %s %q must start with /", kind, value)
		}
		if kind == "exact" {
			return fmt.Sprintf("Path(%s)", quote(value)), nil
		}
		return fmt.Sprintf("PathPrefix(%s)", quote(value)), nil
	default:
		if _, err := regexp.Compile(value); err != nil {
			return "", fmt.Errorf("path: regex %q does not compile: %v", value, err)
		}
		return fmt.Sprintf("PathRegexp(%s)", quote(value)), nil
	}
}

// routeMatchCondition renders one RouteMatch: its method, path and headers
// ANDed; "" when it sets none (it then matches every request).
func routeMatchCondition(m v1alpha1.RouteMatch) (string, error) {
	var conds []string
	if m.Method != nil {
		c, err := methodCondition(m.Method)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	if m.Path != nil {
		c, err := pathCondition(m.Path)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	names := make([]string, 0, len(m.Headers))
	for name := range m.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := m.Headers[name]
		c, err := headerCondition(name, &v)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, " && "), nil
}

// MirrorRouteCondition renders a setMirrorRoute's matches: a request matches
// when any one RouteMatch does (they are ORed); "" when one of them is empty,
// meaning every request of the base rule.
func MirrorRouteCondition(matches []v1alpha1.RouteMatch) (string, error) {
	if len(matches) == 0 {
		return "", errors.New("no match")
	}
	conds := make([]string, 0, len(matches))
	all := false
	for i, m := range matches {
		c, err := routeMatchCondition(m)
		if err != nil {
			return "", fmt.Errorf("match[%d]: %w", i, err)
		}
		if c == "" {
			all = true
		}
		conds = append(conds, c)
	}
	if all {
		return "", nil
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	for i := range conds {
		conds[i] = "(" + conds[i] + ")"
	}
	return strings.Join(conds, " || "), nil
}

// combine ANDs the base rule with a condition.
func combine(base, cond string) string {
	if cond == "" {
		return base
	}
	return "(" + base + ") && (" + cond + ")"
}
