// make fuzz-rego-diff: Open Policy Agent's answers for the differential test
// (tests/rego/diff/run.py). Reads one case per line on stdin, JSON:
//
//	{"modules": [["a.rego", "package p ..."], ...], "data": {...},
//	 "input": ..., "query": "x = data.p", "strict": false}
//
// ("input" absent: no input; "plain": true turns OPA's rule index and early
// exit off, to tell their effects from the language's) and writes one line
// per case:
//
//	{"result": [{"x": ...}, ...]}   the bindings of each solution ([] undefined)
//	{"error": "code", "message": "..."}
//
// Each case gets a fresh compiler and store and at most 5 s.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

type diffCase struct {
	Modules [][2]string      `json:"modules"`
	Data    map[string]any   `json:"data"`
	Input   *json.RawMessage `json:"input"`
	Query   string           `json:"query"`
	Strict  bool             `json:"strict"`
	Plain   bool             `json:"plain"`
}

func errorOut(err error) map[string]any {
	code := "error"
	var astErrs ast.Errors
	var astErr *ast.Error
	var tdErr *topdown.Error
	switch {
	case errors.As(err, &astErrs) && len(astErrs) > 0:
		code = astErrs[0].Code
	case errors.As(err, &astErr):
		code = astErr.Code
	case errors.As(err, &tdErr):
		code = tdErr.Code
	case errors.Is(err, context.DeadlineExceeded):
		code = "timeout"
	}
	msg := err.Error()
	if strings.Contains(msg, "context deadline exceeded") || strings.Contains(msg, "context canceled") {
		code = "timeout"
	}
	return map[string]any{"error": code, "message": msg}
}

func runCase(line []byte) (out map[string]any) {
	defer func() {
		if p := recover(); p != nil {
			out = map[string]any{"error": "panic", "message": fmt.Sprint(p)}
		}
	}()
	var c diffCase
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return map[string]any{"error": "harness", "message": err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := []func(*rego.Rego){rego.Query(c.Query), rego.StrictBuiltinErrors(c.Strict)}
	for _, m := range c.Modules {
		opts = append(opts, rego.Module(m[0], m[1]))
	}
	data := c.Data
	if data == nil {
		data = map[string]any{}
	}
	opts = append(opts, rego.Store(inmem.NewFromObject(data)))
	if c.Input != nil {
		var in any
		d := json.NewDecoder(strings.NewReader(string(*c.Input)))
		d.UseNumber()
		if err := d.Decode(&in); err != nil {
			return map[string]any{"error": "harness", "message": err.Error()}
		}
		opts = append(opts, rego.Input(in))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return errorOut(err)
	}
	var evalOpts []rego.EvalOption
	if c.Plain {
		evalOpts = append(evalOpts, rego.EvalRuleIndexing(false), rego.EvalEarlyExit(false))
	}
	rs, err := pq.Eval(ctx, evalOpts...)
	if err != nil {
		return errorOut(err)
	}
	res := []any{}
	for _, r := range rs {
		b := map[string]any{}
		for k, v := range r.Bindings {
			b[k] = v
		}
		res = append(res, b)
	}
	return map[string]any{"result": res}
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	w := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			b, merr := json.Marshal(runCase(line))
			if merr != nil {
				b, _ = json.Marshal(map[string]any{"error": "harness", "message": merr.Error()})
			}
			w.Write(b)
			w.WriteByte('\n')
			w.Flush()
		}
		if err != nil {
			return
		}
	}
}
