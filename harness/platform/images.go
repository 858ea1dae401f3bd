package platform

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ImageAlias makes a platform run one image reference as another, the way a
// user retags or mirrors images for a cluster that cannot pull them: pods
// naming From run To, with Env appended to To's image env (an image's env is
// part of what it is: nginx listens on 80, say, where the demo app's default
// is 8080). Pod env still overrides both.
type ImageAlias struct {
	From string   // the reference pods name, e.g. nginx:1.19-alpine
	To   string   // the reference that runs, e.g. blastradius/demoapp:blue
	Env  []string // KEY=VALUE added to To's image env
}

// String is the alias in the syntax ParseImageAlias reads.
func (a ImageAlias) String() string {
	return strings.Join(append([]string{a.From + "=" + a.To}, a.Env...), ",")
}

// ParseImageAlias reads FROM=TO[,KEY=VALUE...], e.g.
// "nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80". Image references
// contain neither '=' nor ',', so the syntax is unambiguous.
func ParseImageAlias(s string) (ImageAlias, error) {
	from, rest, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || from == "" || rest == "" {
		return ImageAlias{}, fmt.Errorf("image alias %q: want FROM=TO[,KEY=VALUE...], e.g. nginx:1.19-alpine=blastradius/demoapp:blue,PORT=80", s)
	}
	parts := strings.Split(rest, ",")
	a := ImageAlias{From: from, To: parts[0]}
	for _, ref := range []string{a.From, a.To} {
		if _, err := name.ParseReference(ref); err != nil {
			return ImageAlias{}, fmt.Errorf("image alias %q: %q is not an image reference: %w", s, ref, err)
		}
	}
	for _, kv := range parts[1:] {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return ImageAlias{}, fmt.Errorf("image alias %q: env %q is not KEY=VALUE", s, kv)
		}
		a.Env = append(a.Env, kv)
	}
	return a, nil
}

// ReadImageAliases reads a file of aliases, one ParseImageAlias syntax a
// line; blank lines and lines starting with # are skipped. Errors name the
// file and line.
func ReadImageAliases(path string) ([]ImageAlias, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image aliases: %w", err)
	}
	defer f.Close()
	var out []ImageAlias
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a, err := ParseImageAlias(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ResolveAlias returns the alias whose From is the same reference as image
// (nginx:1.19-alpine and docker.io/library/nginx:1.19-alpine are the same;
// a tag must match exactly, there are no wildcards), or false.
func ResolveAlias(aliases []ImageAlias, image string) (ImageAlias, bool) {
	want := canonicalRef(image)
	for _, a := range aliases {
		if canonicalRef(a.From) == want {
			return a, true
		}
	}
	return ImageAlias{}, false
}

// canonicalRef is a reference's fully qualified name, or the string itself
// when it does not parse.
func canonicalRef(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Name()
}
