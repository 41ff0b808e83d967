// The seed article's own experiments in Go, the same setups and names as
// benches/seed_bench.cpp (benches/README.md says how each follows the
// article), and its correctness claims as checks recorded in the results.
package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ---- seed.buffered_fan_in, seed.closed_fan_in ---------------------------------

type fanInSetup struct {
	capacity, requests, burst    int
	qps, p50ms, p99ms, consumeUs float64
	workers                      int     // closed loop: this many producers, each starting its next request when its send has returned
	stallEveryMs, stallMs        float64 // the consumer takes no result in [k every, k every + stall)
}

// offsetNs: steady arrivals at qps, the burst's all at the midpoint.
func (s fanInSetup) offsetNs(i int) int64 {
	steady := s.requests - s.burst
	half := steady / 2
	k := i
	if i >= half && i < half+s.burst {
		k = half
	} else if i >= half+s.burst {
		k = i - s.burst
	}
	return int64(float64(k) * 1e9 / s.qps)
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// serviceNs: log-logistic with the given median and P99, as the C++ side.
func serviceNs(id uint64, p50ms, p99ms float64) int64 {
	u := float64(splitmix64(id)>>11) * 0x1p-53
	u = math.Min(math.Max(u, 1e-9), 1-1e-9)
	beta := math.Log(99) / math.Log(p99ms/p50ms)
	return int64(p50ms * 1e6 * math.Pow(u/(1-u), 1/beta))
}

func busyFor(ns int64) {
	until := nowNs() + ns
	for nowNs() < until {
	}
}

// sleepUntilNs: time.Sleep while t is more than 2 ms away (this runtime's
// timers are about 1 ms coarse: a generator sleeping whenever ahead started
// requests 3-7 ms late), then yields to other goroutines until it. The C++
// side (seed_bench.cpp, wait_until_ns) waits the same way.
const sleepAboveNs = 2e6

func sleepUntilNs(t int64) {
	for now := nowNs(); now < t; now = nowNs() {
		if t-now > sleepAboveNs {
			time.Sleep(time.Duration(t - now - sleepAboveNs*3/4))
		} else {
			runtime.Gosched()
		}
	}
}

type gauge struct{ live, peak int64 }

func (g *gauge) enter() {
	now := atomic.AddInt64(&g.live, 1)
	for {
		p := atomic.LoadInt64(&g.peak)
		if now <= p || atomic.CompareAndSwapInt64(&g.peak, p, now) {
			return
		}
	}
}
func (g *gauge) leave() { atomic.AddInt64(&g.live, -1) }

func pctMs(v []int64, p float64) float64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return percentile(s, p) / 1e6
}

// One run per iteration; the time is from the run's start to the last
// result handled. Counted as in C++: a producer is live from its start to
// its send's return, blocked from a send that could not complete at once to
// its return; e2e from each request's scheduled start (open loop) or start
// (closed loop) to its handling, handoff to its send's return.
func seedFanIn(s fanInSetup) func(n int64) result {
	return func(n int64) result {
		var total time.Duration
		extra := map[string]float64{}
		closed := s.workers > 0
		for it := int64(0); it < n; it++ {
			ch := make(chan uint64, s.capacity)
			var live, blocked gauge
			latency := make([]int64, s.requests)
			late := make([]int64, s.requests)
			started := make([]int64, s.requests)
			handoff := make([]int64, s.requests)
			sendWait := make([]int64, s.requests)
			seen := make([]uint8, s.requests)
			received, dups := 0, 0
			var lastDone int64
			setup := int64(2e6)
			if closed {
				setup = 20e6
			}
			t0 := nowNs() + setup
			every, stall := int64(s.stallEveryMs*1e6), int64(s.stallMs*1e6)
			done := make(chan struct{})
			go func() {
				for k := 0; k < s.requests; k++ {
					if every > 0 && stall > 0 { // inside a stall window: wait for its end
						now := nowNs() - t0
						if end := now/every*every + stall; now >= 0 && now < end {
							time.Sleep(time.Duration(end - now))
						}
					}
					id := <-ch
					busyFor(int64(s.consumeUs * 1e3))
					lastDone = nowNs()
					if id >= uint64(s.requests) || seen[id] != 0 {
						dups++
						continue
					}
					seen[id] = 1
					latency[id] = lastDone - started[id]
					received++
					runtime.Gosched() // as the C++ consumers: yield after each result
				}
				close(done)
			}()
			request := func(id uint64) {
				time.Sleep(time.Duration(serviceNs(id, s.p50ms, s.p99ms)))
				a := nowNs()
				select {
				case ch <- id:
				default:
					blocked.enter()
					ch <- id
					blocked.leave()
				}
				b := nowNs()
				sendWait[id] = b - a
				handoff[id] = b - started[id]
			}
			if closed {
				for w := 0; w < s.workers; w++ {
					live.enter()
					go func(w int) {
						sleepUntilNs(t0)
						for id := w; id < s.requests; id += s.workers {
							started[id] = nowNs()
							request(uint64(id))
						}
						live.leave()
					}(w)
				}
			} else {
				for i := 0; i < s.requests; i++ {
					started[i] = t0 + s.offsetNs(i)
					sleepUntilNs(started[i])
					live.enter()
					go func(id uint64) {
						late[id] = nowNs() - started[id]
						request(id)
						live.leave()
					}(uint64(i))
				}
			}
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				family := "seed.buffered_fan_in"
				if closed {
					family = "seed.closed_fan_in"
				}
				return result{err: "watchdog: " + family + " made no progress for 60 s"}
			}
			if received != s.requests || dups != 0 {
				return result{err: fmt.Sprintf("wrong result: %d of %d requests answered, %d duplicated", received, s.requests, dups)}
			}
			el := time.Duration(lastDone - t0)
			total += el
			var waitSum float64
			for _, w := range sendWait {
				waitSum += float64(w)
			}
			extra = map[string]float64{
				"throughput_rps": float64(s.requests) / el.Seconds(),
				"e2e_p50_ms":     pctMs(latency, 0.50), "e2e_p95_ms": pctMs(latency, 0.95),
				"e2e_p99_ms": pctMs(latency, 0.99), "e2e_max_ms": pctMs(latency, 1.0),
				"handoff_p95_ms": pctMs(handoff, 0.95), "send_wait_p95_ms": pctMs(sendWait, 0.95),
				"send_wait_mean_us":      waitSum / float64(s.requests) / 1e3,
				"peak_live_producers":    float64(live.peak),
				"peak_blocked_producers": float64(blocked.peak),
				"requests":               float64(s.requests),
			}
			if !closed {
				extra["start_late_p99_ms"] = pctMs(late, 0.99)
				var lastStart int64
				for i := range started {
					if st := started[i] + late[i] - t0; st > lastStart {
						lastStart = st
					}
				}
				if span := float64(s.offsetNs(s.requests - 1)); span > 0 {
					if lastStart < 1 {
						lastStart = 1
					}
					extra["rate_reached"] = math.Min(1, span/float64(lastStart))
				}
			}
		}
		return result{iters: n, elapsed: total, items: int64(s.requests), extra: extra}
	}
}

// ---- seed.atomic_mutex -------------------------------------------------------

const addsPerRound = 1 << 14

// writers goroutines add 1 to one shared counter addsPerRound times each;
// ns_per_op = wall time x CPUs in use / adds (the C++ definition).
func atomicMutex(useMutex bool, writers int) func(n int64) result {
	return func(n int64) result {
		var v int64
		var mu sync.Mutex
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < addsPerRound; i++ {
						if useMutex {
							mu.Lock()
							v++
							mu.Unlock()
						} else {
							atomic.AddInt64(&v, 1)
						}
					}
				}()
			}
			wg.Wait()
		}
		el := time.Since(t0)
		want := n * addsPerRound * int64(writers)
		if v != want {
			return result{err: fmt.Sprintf("wrong result: counter %d, want %d", v, want)}
		}
		cpus := minInt(writers, runtime.GOMAXPROCS(0))
		return result{iters: n, elapsed: el, items: addsPerRound * int64(writers), extra: map[string]float64{
			"ns_per_op": float64(el.Nanoseconds()) * float64(cpus) / float64(want), "cpus_used": float64(cpus)}}
	}
}

// ---- seed.paced_writes -------------------------------------------------------

type padded struct {
	v int64
	_ [56]byte
}

// Each writer writes at `rate` per second for `seconds` (at least 20
// writes) on a fixed schedule; every write is timed on its own (two clock
// reads included, as in C++). Strategies: go_slots_padded (a writer's own
// padded slot: shares nothing), go_atomic_add, go_mutex, go_sharded_padded.
func pacedWrites(strategy string, writers int, rate, seconds float64) func(n int64) result {
	return func(n int64) result {
		writes := int64(math.Max(20, rate*seconds))
		period := 1e9 / rate
		var shared int64
		var mu sync.Mutex
		slots := make([]padded, writers)
		sums := make([]padded, writers)
		took := make([]padded, writers)
		t0 := nowNs() + 1e6
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				var sum int64
				for i := int64(0); i < writes; i++ {
					sleepUntilNs(t0 + int64(float64(i)*period))
					a := nowNs()
					switch strategy {
					case "go_slots_padded":
						slots[w].v++
					case "go_atomic_add":
						atomic.AddInt64(&shared, 1)
					case "go_mutex":
						mu.Lock()
						shared++
						mu.Unlock()
					case "go_sharded_padded":
						atomic.AddInt64(&slots[w].v, 1)
					}
					sum += nowNs() - a
				}
				sums[w].v = sum
				took[w].v = nowNs() - t0
			}(w)
		}
		wg.Wait()
		var total, sum, longest int64 = shared, 0, 0
		for w := range slots {
			total += slots[w].v
			sum += sums[w].v
			if took[w].v > longest {
				longest = took[w].v
			}
		}
		want := writes * int64(writers)
		if total != want {
			return result{err: fmt.Sprintf("wrong result: %d writes counted, want %d", total, want)}
		}
		perS := float64(writes-1) * 1e9 / float64(longest)
		return result{iters: 1, elapsed: time.Duration(longest), items: want, extra: map[string]float64{
			"write_ns": float64(sum) / float64(want), "writes_per_s_per_writer": perS, "rate_reached": perS / rate}}
	}
}

// ---- seed.false_sharing ------------------------------------------------------

// The article's Counter, packed and with `_ [56]byte` after each field.
type counterPacked struct {
	Hits   uint64
	Misses uint64
}
type counterPadded struct {
	Hits   uint64
	_      [56]byte
	Misses uint64
	_      [56]byte
}

const opsPerRound = 1 << 16

// Goroutine t adds to field t%2 of counter t/2; both layouts every iteration.
func falseSharing(writers int) func(n int64) result {
	return func(n int64) result {
		packed := make([]counterPacked, (writers+1)/2)
		paddedC := make([]counterPadded, (writers+1)/2)
		run := func(field func(t int) *uint64) time.Duration {
			t0 := time.Now()
			var wg sync.WaitGroup
			for t := 0; t < writers; t++ {
				wg.Add(1)
				go func(f *uint64) {
					defer wg.Done()
					for i := 0; i < opsPerRound; i++ {
						atomic.AddUint64(f, 1)
					}
				}(field(t))
			}
			wg.Wait()
			return time.Since(t0)
		}
		var tPacked, tPadded time.Duration
		for it := int64(0); it < n; it++ {
			tPacked += run(func(t int) *uint64 {
				if t%2 == 0 {
					return &packed[t/2].Hits
				}
				return &packed[t/2].Misses
			})
			tPadded += run(func(t int) *uint64 {
				if t%2 == 0 {
					return &paddedC[t/2].Hits
				}
				return &paddedC[t/2].Misses
			})
		}
		want := uint64(n) * opsPerRound
		for t := 0; t < writers; t++ {
			a, b := packed[t/2].Hits, paddedC[t/2].Hits
			if t%2 == 1 {
				a, b = packed[t/2].Misses, paddedC[t/2].Misses
			}
			if a != want || b != want {
				return result{err: "wrong result: a counter lost increments"}
			}
		}
		ops := float64(want)
		return result{iters: n, elapsed: tPacked + tPadded, items: 2 * opsPerRound * int64(writers), extra: map[string]float64{
			"packed_ns_per_op": float64(tPacked.Nanoseconds()) / ops, "padded_ns_per_op": float64(tPadded.Nanoseconds()) / ops,
			"packed_padded_slowdown": float64(tPacked) / float64(tPadded),
			"throughput_loss":        1 - float64(tPadded)/float64(tPacked)}}
	}
}

func seedSpecs(quick bool) []spec {
	var out []spec
	add := func(impl string, threads int, run func(int64) result, rounds int64, family string, kv ...any) {
		n, p := name(family, impl, kv...)
		out = append(out, spec{n, family, impl, p, threads, run, rounds})
	}
	hw := runtime.NumCPU()
	if hw < 2 {
		hw = 2
	}
	// Writers as the C++ side (cpu_counts): 1, 2, 4, ... up to the CPUs, N, 2N.
	var writerCounts []int
	for k := 1; k < hw; k *= 2 {
		writerCounts = append(writerCounts, k)
	}
	writerCounts = append(writerCounts, hw, 2*hw)
	nAnd2N := []int{hw, 2 * hw}
	requests, burst, qpss, caps := 10000, 2000, []int{5000, 20000}, []int{0, 64, 1024}
	rates := []float64{1e2, 1e3, 1e4, 1e5, 1e6, 1e7}
	seconds := 0.2
	if quick {
		writerCounts, nAnd2N = []int{1, hw}, []int{hw}
		requests, burst, caps = 2000, 400, []int{0, 1024}
		rates, seconds = []float64{1e2, 1e4, 1e6, 1e7}, 0.05
	}
	// The article's setups; the same open loop under a consumer that
	// stalls; closed-loop workers under that consumer (as seed_bench.cpp).
	var setups []fanInSetup
	for _, q := range qpss {
		setups = append(setups, fanInSetup{requests: requests, burst: burst, qps: float64(q)})
	}
	stalled := fanInSetup{requests: 4000, qps: 2000, stallEveryMs: 200, stallMs: 150}
	closedRequests := 2000
	if quick {
		stalled.requests, closedRequests = 1000, 1000
	}
	setups = append(setups, stalled)
	closedSetup := stalled
	closedSetup.requests, closedSetup.workers = closedRequests, 60
	setups = append(setups, closedSetup)
	for _, base := range setups {
		for _, c := range caps {
			s := base
			s.capacity, s.p50ms, s.p99ms, s.consumeUs = c, 20, 80, 80
			tail := []any{"requests", s.requests, "service_p50_ms", 20, "service_p99_ms", 80, "consume_us", 80,
				"stall_every_ms", int(s.stallEveryMs), "stall_ms", int(s.stallMs)}
			if s.workers > 0 {
				add("go_chan", s.workers+2, seedFanIn(s), 1, "seed.closed_fan_in",
					append([]any{"runner", "goroutine", "cap", c, "workers", s.workers}, tail...)...)
			} else {
				add("go_chan", s.requests+2, seedFanIn(s), 1, "seed.buffered_fan_in",
					append([]any{"runner", "goroutine", "cap", c, "qps", int(s.qps), "burst", s.burst}, tail...)...)
			}
		}
	}
	for _, w := range writerCounts {
		add("go_atomic_add", w, atomicMutex(false, w), 0, "seed.atomic_mutex", "runner", "goroutine", "writers", w)
		add("go_mutex", w, atomicMutex(true, w), 0, "seed.atomic_mutex", "runner", "goroutine", "writers", w)
	}
	for _, st := range []string{"go_slots_padded", "go_atomic_add", "go_mutex", "go_sharded_padded"} {
		for _, w := range nAnd2N {
			for _, r := range rates {
				add(st, w, pacedWrites(st, w, r, seconds), 1, "seed.paced_writes", "runner", "goroutine", "writers", w, "rate", int64(r))
			}
		}
	}
	// The article's 16 cores where the machine has them (Go sees logical CPUs only), N and 2N.
	fsWriters := []int{minInt(16, hw)}
	for _, w := range nAnd2N {
		if w != fsWriters[0] {
			fsWriters = append(fsWriters, w)
		}
	}
	for _, w := range fsWriters {
		add("go_counter", w, falseSharing(w), 0, "seed.false_sharing", "runner", "goroutine", "writers", w, "align", 64)
	}
	return out
}

// ---- checks: the seed's correctness claims, as outcomes ----------------------

func outcome(ok bool, detail string) map[string]any {
	return map[string]any{"outcome": ok, "detail": detail}
}

// Section 4.1: goroutines started in `for i := ...` capture the loop
// variable. They read it after the loop has ended (a channel orders the
// reads after the last write, so the check is race-free).
func loopVariableShared() map[string]any {
	got := make([]int, 3)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		k := i // declared in the body: one per iteration
		go func() {
			defer wg.Done()
			<-gate
			got[k] = i // go vet reports this capture: it is the trap being checked
		}()
	}
	close(gate)
	wg.Wait()
	shared := got[0] == 3 && got[1] == 3 && got[2] == 3
	return outcome(shared, fmt.Sprintf("%s, module language go 1.19: the goroutines read i = %v "+
		"(Go 1.22 gives each iteration its own i in modules declaring go >= 1.22: they would read [0 1 2])",
		runtime.Version(), got))
}

// Section 4.3: a panic in another goroutine is not caught by the caller's
// recover and ends the program. Run it in a child process (this binary).
func recoverMissesOtherGoroutine() map[string]any {
	self, err := os.Executable()
	if err != nil {
		return outcome(false, "cannot find this executable; not checked: "+err.Error())
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "CONPAT_GO_CHECK=panic_in_other_goroutine")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return outcome(false, "could not run the child: "+err.Error())
	}
	panicked := strings.Contains(stderr.String(), "panic: from another goroutine")
	return outcome(code == 2 && panicked, fmt.Sprintf("child exited with code %d; panic message on stderr: %v; "+
		"the caller's deferred recover did not run (it prints 'recovered' and exits 0)", code, panicked))
}

func childPanicInOtherGoroutine() {
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("recovered")
			os.Exit(0)
		}
	}()
	done := make(chan struct{})
	go func() {
		panic("from another goroutine")
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	os.Exit(3)
}

// The fix: recover in a defer on the goroutine that panics.
func recoverCatchesSameGoroutine() map[string]any {
	caught := make(chan any, 1)
	go func() {
		defer func() { caught <- recover() }()
		panic("in this goroutine")
	}()
	r := <-caught
	return outcome(r == "in this goroutine", fmt.Sprintf("a deferred recover on the panicking goroutine returned %v", r))
}

func seedChecks() map[string]any {
	checks := map[string]any{
		"go_loop_variable_shared":           loopVariableShared(),
		"go_recover_misses_other_goroutine": recoverMissesOtherGoroutine(),
		"go_recover_catches_same_goroutine": recoverCatchesSameGoroutine(),
	}
	// Go 1.22 and later: the same loop in the toolchain's own language
	// (loopvar_go122.go); older toolchains record nothing.
	if c := loopVariableCurrentLanguage(); c != nil {
		checks["go_loop_variable_shared_current_language"] = c
	}
	return checks
}
