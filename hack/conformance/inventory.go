package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
)

// A test is one test the suite reports: a testify suite's method, named
// Suite/Method as go test names it (TestCanarySuite/TestCanarySetCanaryScale),
// or a plain top-level test (Method empty).
type test struct {
	Suite  string // the top-level Test function
	Method string // the suite's method; empty for a plain test
}

func (t test) String() string {
	if t.Method == "" {
		return t.Suite
	}
	return t.Suite + "/" + t.Method
}

// inventory lists the tests of the Go test package in dir by reading its
// source: each top-level TestX(t) that calls suite.Run(t, new(S)) or
// suite.Run(t, &S{}) contributes S's Test* methods; any other TestX(t) is a
// plain test. Build tags are ignored: the e2e files all carry `e2e`.
func inventory(dir string) ([]test, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no test files in %s", dir)
	}
	fset := token.NewFileSet()
	suiteOf := map[string]string{} // suite type -> top-level test
	methods := map[string][]string{}
	var plain []string
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			if fn.Recv != nil {
				if typ := receiverType(fn.Recv); typ != "" {
					methods[typ] = append(methods[typ], fn.Name.Name)
				}
				continue
			}
			if typ := suiteRun(fn.Body); typ != "" {
				suiteOf[typ] = fn.Name.Name
			} else {
				plain = append(plain, fn.Name.Name)
			}
		}
	}
	var out []test
	for typ, top := range suiteOf {
		for _, m := range methods[typ] {
			out = append(out, test{Suite: top, Method: m})
		}
	}
	for _, p := range plain {
		out = append(out, test{Suite: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// receiverType is the type name of a method's receiver, without the star.
func receiverType(recv *ast.FieldList) string {
	if len(recv.List) != 1 {
		return ""
	}
	t := recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// suiteRun finds suite.Run(t, new(S)) or suite.Run(t, &S{}) in a body and
// returns S.
func suiteRun(body *ast.BlockStmt) string {
	var typ string
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || typ != "" {
			return typ == ""
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Run" || len(call.Args) != 2 {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "suite" {
			return true
		}
		switch a := call.Args[1].(type) {
		case *ast.CallExpr: // new(S)
			if id, ok := a.Fun.(*ast.Ident); ok && id.Name == "new" && len(a.Args) == 1 {
				if s, ok := a.Args[0].(*ast.Ident); ok {
					typ = s.Name
				}
			}
		case *ast.UnaryExpr: // &S{}
			if lit, ok := a.X.(*ast.CompositeLit); ok {
				if s, ok := lit.Type.(*ast.Ident); ok {
					typ = s.Name
				}
			}
		}
		return typ == ""
	})
	return typ
}
