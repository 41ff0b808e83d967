// What a closure costs in Go (the article's section 4.4), beside the C++
// rows of the same names (benches/callback_bench.cpp):
//
//   callback.dispatch/impl:go_func/capture:C   a func value made from a closure, called
//   callback.spawn/impl:go_goroutine/capture:C one task on its own goroutine, joined
//
// Each row carries allocs_per_op and bytes_per_op: testing.AllocsPerRun's
// count of heap allocations for one op (make the closure, hold it in a func
// value, call it once; or spawn and join one task) and the bytes the
// runtime allocated per op (runtime.MemStats.TotalAlloc). scripts/bench.py
// builds this package with -gcflags=-m and records the compiler's escape
// decisions for this file in the results (context.conpat.go_escape), the
// lines that say which captured variables moved to the heap.
package main

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

const dispatchCalls = 1024

// The captures of the C++ rows: value (8 bytes, never written after
// capture, so Go captures a copy), ref (a variable the closure writes, so
// Go captures its address), shared_ptr (a pointer to a heap value), large
// (a 64-byte array by value).
var closureCaptures = []string{"value", "ref", "shared_ptr", "large"}

//go:noinline
func makeClosure(capture string, k int64) func(int64) int64 {
	switch capture {
	case "value":
		return func(x int64) int64 { return x + k }
	case "ref":
		calls := int64(0)
		return func(x int64) int64 { calls++; return x + k + calls - calls }
	case "shared_ptr":
		p := new(int64)
		*p = k
		return func(x int64) int64 { return x + *p }
	default:
		var ks [8]int64
		ks[7] = k
		return func(x int64) int64 { return x + ks[0] + ks[7] }
	}
}

//go:noinline
func callN(f func(int64) int64, n int) int64 {
	var sum int64
	for i := 0; i < n; i++ {
		sum += f(int64(i))
	}
	return sum
}

// bytesPerRun is AllocsPerRun's twin for bytes: TotalAlloc's growth over
// runs calls, per call (after one warm-up call).
func bytesPerRun(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}

// callback.dispatch: one iteration makes the closure's func value and calls
// it dispatchCalls times, as the C++ row wraps the closure in its holder.
func dispatchGo(capture string) func(n int64) result {
	return func(n int64) result {
		const k = 7
		var total int64
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			total += callN(makeClosure(capture, k), dispatchCalls)
		}
		el := time.Since(t0)
		r := result{iters: n, elapsed: el, items: dispatchCalls}
		if total != n*(dispatchCalls*(dispatchCalls-1)/2+dispatchCalls*k) {
			r.err = "wrong result: callbacks returned a wrong sum"
			return r
		}
		var opSum int64
		op := func() { opSum += callN(makeClosure(capture, k), 1) }
		r.extra = map[string]float64{"allocs_per_op": testing.AllocsPerRun(1000, op), "bytes_per_op": bytesPerRun(1000, op),
			"ns_per_call": float64(el.Nanoseconds()) / float64(n*dispatchCalls)}
		if opSum != 2002*k { // AllocsPerRun: 1 warm-up + 1000 runs; bytesPerRun: the same
			r.err = "wrong result: callbacks returned a wrong sum (allocation pass)"
		}
		return r
	}
}

// callback.spawn: one task on its own goroutine, its result back through
// the closure, joined with a WaitGroup (C++: std::thread + join).
//
//go:noinline
func spawnOne(f func(int64) int64, i int64) int64 {
	var v int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		v = f(i)
	}()
	wg.Wait()
	return v
}

func spawnGo(capture string) func(n int64) result {
	return func(n int64) result {
		const k = 7
		f := makeClosure(capture, k)
		var got, want int64
		t0 := time.Now()
		for i := int64(0); i < n; i++ {
			got += spawnOne(f, i)
			want += i + k
		}
		el := time.Since(t0)
		r := result{iters: n, elapsed: el, items: 1}
		if got != want {
			r.err = "wrong result: a task's result was wrong"
			return r
		}
		var opGot int64
		op := func() { opGot += spawnOne(f, 1) }
		r.extra = map[string]float64{"allocs_per_op": testing.AllocsPerRun(200, op), "bytes_per_op": bytesPerRun(200, op)}
		if opGot != 402*(1+k) {
			r.err = "wrong result: a task's result was wrong (allocation pass)"
		}
		return r
	}
}

func closureSpecs() []spec {
	var out []spec
	for _, c := range closureCaptures {
		n, p := name("callback.dispatch", "go_func", "capture", c)
		out = append(out, spec{n, "callback.dispatch", "go_func", p, 1, dispatchGo(c), 0})
	}
	for _, c := range []string{"value", "large"} {
		n, p := name("callback.spawn", "go_goroutine", "capture", c)
		out = append(out, spec{n, "callback.spawn", "go_goroutine", p, 2, spawnGo(c), 0})
	}
	return out
}
