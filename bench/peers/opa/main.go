// bench-rego peer: Open Policy Agent's own evaluator on the bench policy.
// Usage: opa-bench DIR. Checks every decision against DIR/expected first,
// then prints "opa: N decisions/s" (GOMAXPROCS=1, CPU time, round-robin over
// the inputs).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"syscall"

	"github.com/open-policy-agent/opa/v1/rego"
)

func load(path string) (interface{}, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v interface{}
	err = json.Unmarshal(b, &v)
	return v, err
}

func norm(v interface{}) interface{} {
	b, _ := json.Marshal(v)
	var out interface{}
	_ = json.Unmarshal(b, &out)
	return out
}

func main() {
	runtime.GOMAXPROCS(1)
	// -write-expected: write DIR/expected/NAME.json from OPA's decisions
	// (how a new bench's expected decisions are made), then stop.
	write := len(os.Args) == 3 && os.Args[1] == "-write-expected"
	if len(os.Args) != 2 && !write {
		fmt.Fprintln(os.Stderr, "usage: opa-bench [-write-expected] DIR")
		os.Exit(2)
	}
	dir := os.Args[len(os.Args)-1]
	query := "data.enclave.bench.decision"
	if b, err := os.ReadFile(filepath.Join(dir, "query")); err == nil {
		query = string(b)
		for len(query) > 0 && (query[len(query)-1] == '\n' || query[len(query)-1] == ' ') {
			query = query[:len(query)-1]
		}
	}
	opts := []func(*rego.Rego){rego.Query(query)}
	mods, _ := filepath.Glob(filepath.Join(dir, "*.rego"))
	for _, m := range mods {
		b, err := os.ReadFile(m)
		if err != nil {
			fmt.Fprintln(os.Stderr, "opa:", err)
			os.Exit(1)
		}
		opts = append(opts, rego.Module(m, string(b)))
	}
	if d, err := load(filepath.Join(dir, "data.json")); err == nil {
		opts = append(opts, rego.Store(inmemStore(d)))
	}
	ctx := context.Background()
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "opa:", err)
		os.Exit(1)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "inputs", "*.json"))
	sort.Strings(names)
	var inputs []interface{}
	for _, n := range names {
		in, err := load(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "opa:", err)
			os.Exit(1)
		}
		if write {
			rs, err := pq.Eval(ctx, rego.EvalInput(in))
			if err != nil || len(rs) != 1 {
				fmt.Fprintf(os.Stderr, "opa: %s: %v %v\n", filepath.Base(n), rs, err)
				os.Exit(1)
			}
			b, _ := json.MarshalIndent(rs[0].Expressions[0].Value, "", " ")
			_ = os.MkdirAll(filepath.Join(dir, "expected"), 0o755)
			if err := os.WriteFile(filepath.Join(dir, "expected", filepath.Base(n)), append(b, '\n'), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "opa:", err)
				os.Exit(1)
			}
			continue
		}
		want, err := load(filepath.Join(dir, "expected", filepath.Base(n)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "opa:", err)
			os.Exit(1)
		}
		rs, err := pq.Eval(ctx, rego.EvalInput(in))
		if err != nil || len(rs) != 1 || !reflect.DeepEqual(norm(rs[0].Expressions[0].Value), want) {
			fmt.Fprintf(os.Stderr, "opa: %s: decided %v (%v)\n", filepath.Base(n), rs, err)
			os.Exit(1)
		}
		inputs = append(inputs, in)
	}
	// Decisions per CPU-second of the process (garbage collection
	// included): the best of five slices, as the C bench does.
	best := 0.0
	if write {
		return
	}
	count := 0
	for slice := 0; slice < 5; slice++ {
		start := count
		t0 := cpuSeconds()
		var el float64
		for {
			for k := 0; k < 64; k++ {
				if _, err := pq.Eval(ctx, rego.EvalInput(inputs[count%len(inputs)])); err != nil {
					fmt.Fprintln(os.Stderr, "opa:", err)
					os.Exit(1)
				}
				count++
			}
			if el = cpuSeconds() - t0; el >= 0.4 {
				break
			}
		}
		if r := float64(count-start) / el; r > best {
			best = r
		}
	}
	fmt.Printf("opa:                         %10.0f decisions/s\n", best)
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
