package scenario

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a scenario file, located by line and field path.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when the problem is not on a line
	Field string // e.g. "spec.load.slo" or "spec.faults[1].runtime.faults.errorRate"; "" for the file
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors flattens an error returned by Load, LoadAll or errors.Join into its
// individual errors, in order.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	return []error{err}
}

// decoder walks a YAML node tree and collects located errors.
type decoder struct {
	file string
	errs []error
}

func (d *decoder) errorf(line int, field, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// err joins the errors collected, in line order.
func (d *decoder) err() error {
	slices.SortStableFunc(d.errs, func(a, b error) int { return a.(*Error).Line - b.(*Error).Line })
	return errors.Join(d.errs...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe renders a node for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "an unsupported node"
}

// fields is one YAML mapping, its keys checked against the known ones.
type fields struct {
	d     *decoder
	path  string // field path of the mapping; "" for the document
	line  int    // where a missing field is reported
	keys  map[string]*yaml.Node
	vals  map[string]*yaml.Node // non-null values of known keys
	order []string              // the keys of vals, in file order
	kids  map[string]*fields    // decoded child mappings, so each is checked once
}

// mapping checks that n is a mapping whose keys are among known (nil: any
// key) and without duplicates. Null values count as unset. It returns nil,
// after reporting, if n is not a mapping. line is where missing fields are
// reported: the line of the key that holds the mapping.
func (d *decoder) mapping(n *yaml.Node, path string, line int, known []string) *fields {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "must be a mapping, got %s", describe(n))
		return nil
	}
	f := &fields{d: d, path: path, line: line, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		name := k.Value
		if first, dup := f.keys[name]; dup {
			d.errorf(k.Line, join(path, name), "duplicate field (first at line %d)", first.Line)
			continue
		}
		f.keys[name] = k
		if known != nil && !slices.Contains(known, name) {
			if looksSecret(name) {
				d.errorf(k.Line, join(path, name), "secrets are never read from scenario files (a scenario is committed and shared): "+
					"give the model's key in OPENAI_API_KEY or a file named by --llm-api-key-file")
				continue
			}
			d.errorf(k.Line, join(path, name), "unknown field")
			continue
		}
		if !isNull(v) {
			f.vals[name] = v
			f.order = append(f.order, name)
		}
	}
	return f
}

func (f *fields) has(key string) bool { _, ok := f.vals[key]; return ok }

func (f *fields) field(key string) string { return join(f.path, key) }

// lineOf is the line of key's value, else of the key (null value), else of
// the mapping.
func (f *fields) lineOf(key string) int {
	if v, ok := f.vals[key]; ok {
		return v.Line
	}
	if k, ok := f.keys[key]; ok {
		return k.Line
	}
	return f.line
}

// errorf reports a problem with key's value.
func (f *fields) errorf(key, format string, args ...any) {
	f.d.errorf(f.lineOf(key), f.field(key), format, args...)
}

// require reports key as missing unless it is set.
func (f *fields) require(key string) bool {
	if f.has(key) {
		return true
	}
	f.errorf(key, "required")
	return false
}

// The typed getters return ok=false when the key is unset or (after
// reporting) its value is invalid; bad tells the two apart.
func (f *fields) bad(key string, ok bool) bool { return f.has(key) && !ok }

func (f *fields) str(key string) (string, bool) {
	v, ok := f.vals[key]
	if !ok {
		return "", false
	}
	return f.d.str(v, f.field(key))
}

func (f *fields) integer(key string) (int64, bool) {
	v, ok := f.vals[key]
	if !ok {
		return 0, false
	}
	return f.d.integer(v, f.field(key))
}

func (f *fields) number(key string) (float64, bool) {
	v, ok := f.vals[key]
	if !ok {
		return 0, false
	}
	return f.d.number(v, f.field(key))
}

func (f *fields) boolean(key string) (bool, bool) {
	v, ok := f.vals[key]
	if !ok {
		return false, false
	}
	return f.d.boolean(v, f.field(key))
}

func (f *fields) duration(key string) (time.Duration, bool) {
	v, ok := f.vals[key]
	if !ok {
		return 0, false
	}
	return f.d.duration(v, f.field(key))
}

func (f *fields) list(key string) ([]*yaml.Node, bool) {
	v, ok := f.vals[key]
	if !ok {
		return nil, false
	}
	return f.d.list(v, f.field(key))
}

// child decodes key's value as a mapping; nil if unset or not a mapping.
// It decodes (and reports) once; later calls return the same result.
func (f *fields) child(key string, known []string) *fields {
	if c, ok := f.kids[key]; ok {
		return c
	}
	v, ok := f.vals[key]
	if !ok {
		return nil
	}
	c := f.d.mapping(v, f.field(key), f.keys[key].Line, known)
	if f.kids == nil {
		f.kids = map[string]*fields{}
	}
	f.kids[key] = c
	return c
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.errorf(n.Line, path, "must be a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, path string) (int64, bool) {
	var i int64
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		d.errorf(n.Line, path, "must be a whole number, got %s", describe(n))
		return 0, false
	}
	return i, true
}

func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	var x float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&x) != nil {
		d.errorf(n.Line, path, "must be a number, got %s", describe(n))
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		d.errorf(n.Line, path, "must be a finite number, got %s", n.Value)
		return 0, false
	}
	return x, true
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		d.errorf(n.Line, path, "must be true or false, got %s", describe(n))
		return false, false
	}
	return b, true
}

var digits = regexp.MustCompile(`^[0-9]+(\.[0-9]*)?$`)

// duration reads a Go duration string ("500ms", "1m30s"); a bare 0 is 0s.
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "must be a duration such as \"30s\", got %s", describe(n))
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		if digits.MatchString(n.Value) {
			d.errorf(n.Line, path, "invalid duration %q (missing unit: write e.g. %sms or %ss)", n.Value, n.Value, n.Value)
		} else {
			d.errorf(n.Line, path, "invalid duration %q", n.Value)
		}
		return 0, false
	}
	return v, true
}

func (d *decoder) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, path, "must be a list, got %s", describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = deref(c)
	}
	return items, true
}

// yamlLine extracts the line from a yaml.v3 syntax error ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

func syntaxError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// looksSecret reports whether a field name is a credential's, so that an
// inline key gets the reason it is refused rather than "unknown field".
func looksSecret(name string) bool {
	n := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(name))
	for _, w := range []string{"apikey", "key", "token", "secret", "password", "bearer", "authorization"} {
		if n == w || strings.HasSuffix(n, w) {
			return true
		}
	}
	return false
}
