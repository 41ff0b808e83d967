// conpat's channel workloads in Go, for a side-by-side with the C++
// implementations on the same machine. Standard library only.
//
// It writes Google Benchmark-shaped JSON entries with conpat's fields
// (family, impl, params), the same family names and parameters as the C++
// harness, and the same definitions of time per item (benches/README.md):
// an iteration moves a batch of 4096 items and ends when the consumers
// have received all of them; latency is sampled on one item in 64.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const batch = 4096
const latencyStride = 64

var base = time.Now()

func nowNs() int64 { return int64(time.Since(base)) }

type entry map[string]any

type result struct {
	iters   int64
	elapsed time.Duration
	items   int64 // per iteration
	lat     []int64
	latName string
	extra   map[string]float64
	err     string
}

// measure runs body(n) with growing n until it takes at least minTime, as
// Google Benchmark does, and returns the last run.
func measure(minTime time.Duration, body func(n int64) result) result {
	n := int64(1)
	for {
		r := body(n)
		if r.err != "" || r.elapsed >= minTime || n >= 1<<30 {
			return r
		}
		grow := int64(float64(minTime) / float64(r.elapsed+1) * 1.4 * float64(n))
		if grow <= n {
			grow = n * 2
		}
		if grow > n*10 {
			grow = n * 10
		}
		n = grow
	}
}

func percentile(sorted []int64, p float64) float64 {
	idx := int(p*float64(len(sorted)-1) + 0.5)
	if idx >= len(sorted) {
		idx = len(sorted) - 1
	}
	return float64(sorted[idx])
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func toEntry(name, family, impl string, params map[string]any, threads int, r result) entry {
	e := entry{"name": name + "/real_time", "run_name": name + "/real_time", "run_type": "iteration",
		"repetitions": 1, "repetition_index": 0, "threads": 1, "family": family, "impl": impl,
		"params": params, "time_unit": "ns", "iterations": r.iters,
		// Goroutines are not OS threads: at most GOMAXPROCS of them run at once.
		"oversubscribed": minInt(threads, runtime.GOMAXPROCS(0)) > runtime.NumCPU(),
		"threads_used":   minInt(threads, runtime.GOMAXPROCS(0)), "goroutines": threads, "runner": "goroutine"}
	if r.err != "" {
		e["error_occurred"] = true
		e["error_message"] = r.err
		return e
	}
	perIter := float64(r.elapsed.Nanoseconds()) / float64(r.iters)
	e["real_time"] = perIter
	e["cpu_time"] = perIter
	items := float64(r.items * r.iters)
	e["items_per_second"] = items / r.elapsed.Seconds()
	e["ns_per_item"] = float64(r.elapsed.Nanoseconds()) / items
	if len(r.lat) > 0 {
		sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
		p := r.latName
		e[p+"_p50_ns"] = percentile(r.lat, 0.5)
		e[p+"_p90_ns"] = percentile(r.lat, 0.9)
		e[p+"_p99_ns"] = percentile(r.lat, 0.99)
		e[p+"_p999_ns"] = percentile(r.lat, 0.999)
		e[p+"_samples"] = float64(len(r.lat))
	}
	for k, v := range r.extra {
		e[k] = v
	}
	return e
}

func localWork(units int) {
	foo := uint64(1)
	for i := 0; i < units; i++ {
		foo *= 2
		foo /= 2
	}
	sink = foo
}

var sink uint64

// localWorkNs is what one localWork(units) call costs when called back to
// back, as the producers call it: the best of 5 timings of about 2 ms of
// calls, measured once per count (the C++ harness's local_work_ns).
var workNs = map[int]float64{}

func localWorkNs(units int) float64 {
	if units <= 0 {
		return 0
	}
	if v, ok := workNs[units]; ok {
		return v
	}
	calls := 2000000 / (units + 2)
	if calls < 16 {
		calls = 16
	}
	best := math.MaxFloat64
	for rep := 0; rep < 5; rep++ {
		t0 := time.Now()
		for i := 0; i < calls; i++ {
			localWork(units)
		}
		if ns := float64(time.Since(t0).Nanoseconds()) / float64(calls); ns < best {
			best = ns
		}
	}
	workNs[units] = best
	return best
}

// channel.spsc: the main goroutine produces, one goroutine consumes.
func spsc(capacity, work int) func(n int64) result {
	return func(n int64) result {
		ch := make(chan uint64, capacity)
		stamps := make([]int64, batch)
		done := make(chan struct{}, 1)
		var gotSum, gotCount uint64
		inOrder := true
		lat := make([]int64, 0, n*batch/latencyStride+1)
		go func() {
			// Tallies in the goroutine's own locals, published at the end
			// (as the C++ harness does, so neither measures false sharing).
			var sum, count uint64
			order := true
			for v := range ch {
				if v%latencyStride == 0 {
					lat = append(lat, nowNs()-stamps[v%batch])
				}
				order = order && v == count
				sum += v
				count++
				if count%batch == 0 {
					done <- struct{}{}
				}
			}
			gotSum, gotCount, inOrder = sum, count, order
			close(done)
		}()
		var next, sentSum uint64
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			for i := 0; i < batch; i++ {
				if next%latencyStride == 0 {
					stamps[next%batch] = nowNs()
				}
				if work > 0 {
					localWork(work)
				}
				ch <- next
				sentSum += next
				next++
			}
			<-done
		}
		el := time.Since(t0)
		close(ch)
		for range done {
		}
		r := result{iters: n, elapsed: el, items: batch, lat: lat, latName: "lat"}
		if work > 0 {
			r.extra = map[string]float64{"work_ns": localWorkNs(work)}
		}
		if !inOrder || gotCount != next || gotSum != sentSum {
			r.err = "wrong result: items lost or out of order"
		}
		return r
	}
}

// channel.mpmc: P producer and C consumer goroutines, started before the loop.
func mpmc(capacity, producers, consumers int) func(n int64) result {
	return func(n int64) result {
		ch := make(chan uint64, capacity)
		share := uint64(batch / producers)
		total := share * uint64(producers)
		stamps := make([]int64, total)
		start := make([]chan struct{}, producers)
		roundDone := make(chan struct{}, 1)
		var consumed uint64
		var sentSum, gotSum, gotCount uint64
		var wg sync.WaitGroup
		lats := make([][]int64, consumers)
		bad := int32(0)
		for c := 0; c < consumers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				last := make([]int64, producers)
				for i := range last {
					last[i] = -1
				}
				var local, localSum, localCount uint64
				flush := func() {
					if local == 0 {
						return
					}
					t := atomic.AddUint64(&consumed, local)
					local = 0
					if t%total == 0 {
						roundDone <- struct{}{}
					}
				}
				for {
					var v uint64
					var ok bool
					select {
					case v, ok = <-ch:
					default:
						flush()
						v, ok = <-ch
					}
					if !ok {
						break
					}
					p := v >> 40
					seq := int64(v & (1<<40 - 1))
					if seq <= last[p] {
						atomic.StoreInt32(&bad, 1)
					}
					last[p] = seq
					if seq%latencyStride == 0 {
						lats[c] = append(lats[c], nowNs()-stamps[p*share+uint64(seq)%share])
					}
					localSum += v
					localCount++
					local++
					if local == 256 {
						flush()
					}
				}
				flush()
				atomic.AddUint64(&gotSum, localSum)
				atomic.AddUint64(&gotCount, localCount)
			}(c)
		}
		var pwg sync.WaitGroup
		var sentCount uint64
		for p := 0; p < producers; p++ {
			start[p] = make(chan struct{})
			pwg.Add(1)
			go func(p int) {
				defer pwg.Done()
				seq := uint64(0)
				var s, cnt uint64
				for range start[p] {
					for i := uint64(0); i < share; i++ {
						if seq%latencyStride == 0 {
							stamps[uint64(p)*share+i] = nowNs()
						}
						v := uint64(p)<<40 | seq
						ch <- v
						s += v
						cnt++
						seq++
					}
				}
				atomic.AddUint64(&sentSum, s)
				atomic.AddUint64(&sentCount, cnt)
			}(p)
		}
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			for p := 0; p < producers; p++ {
				start[p] <- struct{}{}
			}
			<-roundDone
		}
		el := time.Since(t0)
		for p := 0; p < producers; p++ {
			close(start[p])
		}
		pwg.Wait()
		close(ch)
		wg.Wait()
		var lat []int64
		for _, l := range lats {
			lat = append(lat, l...)
		}
		r := result{iters: n, elapsed: el, items: int64(total), lat: lat, latName: "lat"}
		if bad != 0 || gotCount != sentCount || gotSum != sentSum {
			r.err = "wrong result: items lost or out of order"
		}
		return r
	}
}

// channel.pingpong: one round trip per iteration.
func pingpong(capacity int) func(n int64) result {
	return func(n int64) result {
		ping, pong := make(chan uint64, capacity), make(chan uint64, capacity)
		go func() {
			for v := range ping {
				pong <- v + 1
			}
			close(pong)
		}()
		lat := make([]int64, 0, n/16+1)
		bad := 0
		t0 := time.Now()
		for i := int64(0); i < n; i++ {
			sample := i%16 == 0
			var s int64
			if sample {
				s = nowNs()
			}
			ping <- uint64(i)
			v := <-pong
			if sample {
				lat = append(lat, nowNs()-s)
			}
			if v != uint64(i)+1 {
				bad++
			}
		}
		el := time.Since(t0)
		close(ping)
		for range pong {
		}
		r := result{iters: n, elapsed: el, items: 1, lat: lat, latName: "lat"}
		if bad != 0 {
			r.err = "wrong result: echo returned wrong values"
		}
		return r
	}
}

// channel.seq (crossbeam's seq): one goroutine sends capacity items into a
// buffered channel of that capacity, then receives them all.
func seq(capacity int) func(n int64) result {
	return func(n int64) result {
		ch := make(chan uint64, capacity)
		var next, sentSum, gotSum, gotCount uint64
		inOrder := true
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			first := next
			for i := 0; i < capacity; i++ {
				ch <- next
				sentSum += next
				next++
			}
			for k := uint64(0); k < uint64(capacity); k++ {
				v := <-ch
				inOrder = inOrder && v == first+k
				gotSum += v
				gotCount++
			}
		}
		el := time.Since(t0)
		r := result{iters: n, elapsed: el, items: int64(capacity)}
		if !inOrder || gotCount != next || gotSum != sentSum {
			r.err = "wrong result: items lost or out of order"
		}
		return r
	}
}

// channel.fan_in: N goroutines each send one result; the collector receives N.
func fanIn(workers, capacity int) func(n int64) result {
	return func(n int64) result {
		var live, peak int64
		bad := 0
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			ch := make(chan uint64, capacity)
			for i := 0; i < workers; i++ {
				go func(i uint64) {
					now := atomic.AddInt64(&live, 1)
					for {
						p := atomic.LoadInt64(&peak)
						if now <= p || atomic.CompareAndSwapInt64(&peak, p, now) {
							break
						}
					}
					ch <- 3 * i
					atomic.AddInt64(&live, -1)
				}(uint64(i))
			}
			var sum uint64
			for i := 0; i < workers; i++ {
				sum += <-ch
			}
			w := uint64(workers)
			if sum != 3*w*(w-1)/2 {
				bad++
			}
		}
		el := time.Since(t0)
		r := result{iters: n, elapsed: el, items: int64(workers), extra: map[string]float64{"peak_workers": float64(peak)}}
		if bad != 0 {
			r.err = "wrong result: a round lost results"
		}
		return r
	}
}

// FanIn is the article's generic fan-in (section 2.3): a goroutine per input
// forwards into one channel until its input closes or ctx is done; the
// channel closes when every forwarder has returned.
func FanIn[T any](ctx context.Context, chans ...<-chan T) <-chan T {
	return fanInCap(ctx, 0, chans...)
}

// fanInCap is FanIn with a buffered result channel (capacity 0 is FanIn),
// for channel.merge's capacity sweep.
func fanInCap[T any](ctx context.Context, capacity int, chans ...<-chan T) <-chan T {
	out := make(chan T, capacity)
	var wg sync.WaitGroup
	for _, c := range chans {
		wg.Add(1)
		go func(c <-chan T) {
			defer wg.Done()
			for v := range c {
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}(c)
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// channel.merge: N producer goroutines each feed their own input channel;
// FanIn merges them (built once, before the loop, as the C++ merge); the
// main goroutine receives each round's batch from the merged channel.
func merge(inputs, capacity int) func(n int64) result {
	return func(n int64) result {
		share := uint64(batch / inputs)
		total := share * uint64(inputs)
		ins := make([]chan uint64, inputs)
		ro := make([]<-chan uint64, inputs)
		start := make([]chan struct{}, inputs)
		for i := range ins {
			ins[i] = make(chan uint64, capacity)
			ro[i] = ins[i]
			start[i] = make(chan struct{}, 1)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out <-chan uint64
		if capacity == 0 {
			out = FanIn(ctx, ro...) // the article's, exactly
		} else {
			out = fanInCap(ctx, capacity, ro...)
		}
		var sentSum, sentCount uint64
		for p := 0; p < inputs; p++ {
			go func(p int) {
				var seq, s, cnt uint64
				for range start[p] {
					for i := uint64(0); i < share; i++ {
						v := uint64(p)<<40 | seq
						ins[p] <- v
						s += v
						cnt++
						seq++
					}
				}
				atomic.AddUint64(&sentSum, s)
				atomic.AddUint64(&sentCount, cnt)
				close(ins[p])
			}(p)
		}
		last := make([]int64, inputs)
		for i := range last {
			last[i] = -1
		}
		var gotSum, gotCount uint64
		inOrder := true
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			for p := 0; p < inputs; p++ {
				start[p] <- struct{}{}
			}
			for k := uint64(0); k < total; k++ {
				v, ok := <-out
				if !ok {
					inOrder = false
					break
				}
				p, seq := v>>40, int64(v&(1<<40-1))
				if p >= uint64(inputs) || seq <= last[p] {
					inOrder = false
				} else {
					last[p] = seq
				}
				gotSum += v
				gotCount++
			}
		}
		el := time.Since(t0)
		for p := 0; p < inputs; p++ {
			close(start[p])
		}
		extra := 0
		for range out { // closes once every producer has closed its input
			extra++
		}
		r := result{iters: n, elapsed: el, items: int64(total), extra: map[string]float64{"usable_cap": float64(capacity)}}
		if !inOrder || extra != 0 || gotCount != atomic.LoadUint64(&sentCount) || gotSum != atomic.LoadUint64(&sentSum) {
			r.err = "wrong result: items lost, out of order, or delivered after the rounds"
		}
		return r
	}
}

// channel.merge_sparse: the merge with one value in flight. The main
// goroutine sends each value on one of the inputs (a fixed xorshift
// sequence, as the C++ rows) and receives it from the merged channel before
// it sends the next; the other inputs stay open and idle. Then it closes
// every input, and the merged channel must close with nothing in it.
func mergeSparse(inputs, capacity int) func(n int64) result {
	return func(n int64) result {
		ins := make([]chan uint64, inputs)
		ro := make([]<-chan uint64, inputs)
		for i := range ins {
			ins[i] = make(chan uint64, capacity)
			ro[i] = ins[i]
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out <-chan uint64
		if capacity == 0 {
			out = FanIn(ctx, ro...)
		} else {
			out = fanInCap(ctx, capacity, ro...)
		}
		rng, seq := uint64(0x9E3779B97F4A7C15), uint64(0)
		wrong := 0
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			for k := 0; k < sparseBatch; k++ {
				rng ^= rng << 13
				rng ^= rng >> 7
				rng ^= rng << 17
				i := rng % uint64(inputs)
				v := i<<40 | seq
				seq++
				ins[i] <- v
				if got, ok := <-out; !ok || got != v {
					wrong++
				}
			}
		}
		el := time.Since(t0)
		for _, c := range ins {
			close(c)
		}
		extra := 0
		for range out {
			extra++
		}
		r := result{iters: n, elapsed: el, items: sparseBatch, extra: map[string]float64{"usable_cap": float64(capacity)}}
		if wrong != 0 || extra != 0 {
			r.err = "wrong result: a value came out of the merge other than the one sent, or after the inputs closed"
		}
		return r
	}
}

const sparseBatch = 256

// channel.select_rx and channel.select_both (crossbeam-channel's select
// workloads), at four channels: Go's select statement names its cases, so
// the four are spelled out (selectRecv4, selectSend4). select_rx: each of
// four sender goroutines sends its share on its own channel, the main
// goroutine receives the batch with a select over the four. select_both:
// four senders each send every item with a select over the four channels,
// four receivers each receive with a select over the four.
func selectRecv4(c []chan uint64) (uint64, bool) {
	select {
	case v, ok := <-c[0]:
		return v, ok
	case v, ok := <-c[1]:
		return v, ok
	case v, ok := <-c[2]:
		return v, ok
	case v, ok := <-c[3]:
		return v, ok
	}
}

func selectSend4(c []chan uint64, v uint64) {
	select {
	case c[0] <- v:
	case c[1] <- v:
	case c[2] <- v:
	case c[3] <- v:
	}
}

const selectThreads = 4

// selectSenders starts the four senders: each waits for a round's token,
// sends its share with send(p, v), and once its start channel closes adds
// its count and sum; the last one closes every channel.
func selectSenders(c []chan uint64, share uint64, send func(p int, v uint64)) (start []chan struct{}, sentSum, sentCount *uint64) {
	start = make([]chan struct{}, selectThreads)
	sentSum, sentCount = new(uint64), new(uint64)
	left := int32(selectThreads)
	for p := range start {
		start[p] = make(chan struct{}, 1)
		go func(p int) {
			var seq, s, cnt uint64
			for range start[p] {
				for i := uint64(0); i < share; i++ {
					v := uint64(p)<<40 | seq
					send(p, v)
					s += v
					cnt++
					seq++
				}
			}
			atomic.AddUint64(sentSum, s)
			atomic.AddUint64(sentCount, cnt)
			if atomic.AddInt32(&left, -1) == 0 {
				for _, ch := range c {
					close(ch)
				}
			}
		}(p)
	}
	return start, sentSum, sentCount
}

// selectChans makes the selectThreads channels a select workload runs on.
func selectChans(capacity int) []chan uint64 {
	c := make([]chan uint64, selectThreads)
	for i := range c {
		c[i] = make(chan uint64, capacity)
	}
	return c
}

func selectRx(capacity int) func(n int64) result {
	return func(n int64) result {
		share := uint64(batch / selectThreads)
		total := share * selectThreads
		c := selectChans(capacity)
		start, sentSum, sentCount := selectSenders(c, share, func(p int, v uint64) { c[p] <- v })
		var gotSum, gotCount uint64
		okAll := true
		t0 := time.Now()
		for it := int64(0); it < n && okAll; it++ {
			for p := range start {
				start[p] <- struct{}{}
			}
			for k := uint64(0); k < total; k++ {
				v, ok := selectRecv4(c)
				if !ok {
					okAll = false
					break
				}
				gotSum += v
				gotCount++
			}
		}
		el := time.Since(t0)
		for p := range start {
			close(start[p])
		}
		extra := 0
		for _, ch := range c {
			for range ch { // closes once every sender has finished
				extra++
			}
		}
		r := result{iters: n, elapsed: el, items: int64(total), extra: map[string]float64{"usable_cap": float64(capacity)}}
		if !okAll || extra != 0 || gotCount != atomic.LoadUint64(sentCount) || gotSum != atomic.LoadUint64(sentSum) {
			r.err = "wrong result: items lost, or left over after the rounds"
		}
		return r
	}
}

func selectBoth(capacity int) func(n int64) result {
	return func(n int64) result {
		share := uint64(batch / selectThreads)
		total := share * selectThreads
		c := selectChans(capacity)
		start, sentSum, sentCount := selectSenders(c, share, func(_ int, v uint64) { selectSend4(c, v) })
		var remaining int64
		roundEnd := make(chan struct{}, 1)
		var gotSum, gotCount uint64
		var wg sync.WaitGroup
		take := func(v uint64, s, cnt *uint64) {
			*s += v
			*cnt++
			if atomic.AddInt64(&remaining, -1) == 0 {
				roundEnd <- struct{}{}
			}
		}
		for q := 0; q < selectThreads; q++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s, cnt uint64
				for {
					v, ok := selectRecv4(c)
					if !ok {
						break
					}
					take(v, &s, &cnt)
				}
				for _, ch := range c { // all close together, after the senders
					for v := range ch {
						take(v, &s, &cnt)
					}
				}
				atomic.AddUint64(&gotSum, s)
				atomic.AddUint64(&gotCount, cnt)
			}()
		}
		t0 := time.Now()
		for it := int64(0); it < n; it++ {
			atomic.StoreInt64(&remaining, int64(total))
			for p := range start {
				start[p] <- struct{}{}
			}
			<-roundEnd
		}
		el := time.Since(t0)
		for p := range start {
			close(start[p])
		}
		wg.Wait()
		r := result{iters: n, elapsed: el, items: int64(total), extra: map[string]float64{"usable_cap": float64(capacity)}}
		if atomic.LoadInt64(&remaining) != 0 || gotCount != atomic.LoadUint64(sentCount) || gotSum != atomic.LoadUint64(sentSum) {
			r.err = "wrong result: items lost or received after the rounds"
		}
		return r
	}
}

// goChanNote says what a go_chan timeout row measures: the runtime of this
// toolchain (Debian 12: go1.19) waits for its timers in netpoll's
// epoll_wait, whose timeout is whole milliseconds on Linux, so a timed
// receive overshoots by up to about a millisecond whatever the channel does.
func goChanNote() string {
	return "Go's chan in the runtime of " + runtime.Version() + ", goroutines on GOMAXPROCS threads. " +
		"timeout.recv_for: this runtime waits for timers in epoll_wait, whose timeout is whole milliseconds " +
		"on Linux, so go_chan's overshoot (up to ~1 ms) is the timer's resolution, not the channel's speed."
}

// timeout.recv_for: select on an empty channel and a timer.
func recvTimeout(timeout time.Duration) func(n int64) result {
	return func(n int64) result {
		ch := make(chan uint64, 16)
		actual := make([]int64, 0, n)
		over := make([]int64, 0, n)
		bad := 0
		var el time.Duration
		for i := int64(0); i < n; i++ {
			t0 := time.Now()
			fired := false
			if timeout <= 0 {
				select { // Go's zero timeout is the default case
				case <-ch:
				default:
					fired = true
				}
			} else {
				t := time.NewTimer(timeout)
				select {
				case <-ch:
				case <-t.C:
					fired = true
				}
			}
			d := time.Since(t0)
			el += d
			actual = append(actual, d.Nanoseconds())
			over = append(over, d.Nanoseconds()-timeout.Nanoseconds())
			if !fired {
				bad++
			}
		}
		sort.Slice(over, func(i, j int) bool { return over[i] < over[j] })
		r := result{iters: n, elapsed: el, items: 1, lat: actual, latName: "actual",
			extra: map[string]float64{"overshoot_p50_ns": percentile(over, 0.5), "overshoot_p99_ns": percentile(over, 0.99)}}
		if bad != 0 {
			r.err = "wrong result: a receive on an empty channel did not time out"
		}
		return r
	}
}

// cancel.fanout (errgroup style): N goroutines block on a channel or the
// group's done channel; one returns an error, which cancels the others.
// Timed from the error until Wait returns.
func errgroupCancel(workers int) func(n int64) result {
	return func(n int64) result {
		var el time.Duration
		bad := 0
		for it := int64(0); it < n; it++ {
			ch := make(chan int)
			done := make(chan struct{})
			var once sync.Once
			var firstErr error
			var wg sync.WaitGroup
			var entered, cancelled int64
			fail := func(err error) {
				once.Do(func() { firstErr = err; close(done) })
			}
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					atomic.AddInt64(&entered, 1)
					select {
					case <-ch:
					case <-done:
						atomic.AddInt64(&cancelled, 1)
					}
				}()
			}
			for atomic.LoadInt64(&entered) < int64(workers) {
				runtime.Gosched()
			}
			time.Sleep(2 * time.Millisecond)
			var thrown int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				atomic.StoreInt64(&thrown, nowNs())
				fail(errors.New("first error"))
			}()
			wg.Wait()
			el += time.Duration(nowNs() - atomic.LoadInt64(&thrown))
			if firstErr == nil || cancelled != int64(workers) {
				bad++
			}
		}
		r := result{iters: n, elapsed: el, items: int64(workers)}
		if bad != 0 {
			r.err = "wrong result: error lost or a goroutine not cancelled"
		}
		return r
	}
}

type spec struct {
	name    string
	family  string
	impl    string
	params  map[string]any
	threads int
	run     func(n int64) result
	rounds  int64 // > 0: a fixed number of iterations (as the C++ harness's cancel.fanout)
}

// goRuntime: this toolchain's release, "go1.19" of "go1.19.8" (a
// development build keeps its whole version string). Every row carries it
// as `runtime`, so runs of one workload under two Go releases stay apart.
func goRuntime() string {
	v := runtime.Version()
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 && strings.HasPrefix(v, "go") {
		return parts[0] + "." + parts[1]
	}
	return strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(v)
}

func name(family, impl string, kv ...any) (string, map[string]any) {
	kv = append(kv, "runtime", goRuntime())
	s := family + "/impl:" + impl
	params := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		s += fmt.Sprintf("/%s:%v", k, kv[i+1])
		params[k] = kv[i+1]
	}
	return s, params
}

func specs(profile string) []spec {
	quick := profile == "quick"
	var out []spec
	add := func(threads int, run func(int64) result, family string, kv ...any) {
		n, p := name(family, "go_chan", kv...)
		out = append(out, spec{n, family, "go_chan", p, threads, run, 0})
	}
	caps := []int{0, 1, 16, 64, 256, 1024, 4096}
	works := []int{100, 1000}
	workCaps := []int{0, 1, 1024}
	if quick {
		caps, works, workCaps = []int{0, 16, 1024}, []int{100}, []int{16}
	}
	for _, c := range caps {
		add(2, spsc(c, 0), "channel.spsc", "cap", c, "payload", 8, "work", 0)
	}
	for _, w := range works {
		for _, c := range workCaps {
			add(2, spsc(c, w), "channel.spsc", "cap", c, "payload", 8, "work", w)
		}
	}
	// As the C++ side: k x k from 2 x 2 until 2k threads are twice the CPUs (at least 8 x 8), 1 x 4, 4 x 1.
	shapes := [][2]int{{1, 4}, {4, 1}}
	for k := 2; k <= 8 || k <= runtime.NumCPU(); k *= 2 {
		shapes = append(shapes, [2]int{k, k})
	}
	mcaps := []int{16, 1024}
	if quick {
		shapes, mcaps = [][2]int{{2, 2}, {4, 1}}, []int{16}
	}
	for _, s := range shapes {
		// The rendezvous and the one-slot buffer (crossbeam's bounded0 /
		// bounded1 cells) at 4 x 1 and 4 x 4 (quick: 4 x 1 only).
		caps := mcaps
		if s == [2]int{4, 1} || (!quick && s == [2]int{4, 4}) {
			caps = append([]int{0, 1}, mcaps...)
		}
		for _, c := range caps {
			add(s[0]+s[1], mpmc(c, s[0], s[1]), "channel.mpmc", "cap", c, "producers", s[0], "consumers", s[1])
		}
	}
	for _, c := range []int{0, 1} {
		add(2, pingpong(c), "channel.pingpong", "cap", c)
	}
	add(1, seq(batch), "channel.seq", "cap", batch)
	fan := []int{16, 1024, 10000}
	if quick {
		fan = []int{16, 1024}
	}
	for _, w := range fan {
		add(w+1, fanIn(w, 64), "channel.fan_in", "runner", "goroutine", "workers", w, "cap", 64)
	}
	mergeInputs, mergeCaps := []int{2, 4, 8, 16, 32, 64}, []int{0, 1, 16, 256}
	if quick {
		mergeInputs, mergeCaps = []int{2, 8}, []int{16}
	} else if runtime.NumCPU() > 64 {
		mergeInputs = append(mergeInputs, runtime.NumCPU())
	}
	for _, in := range mergeInputs {
		for _, c := range mergeCaps {
			// producers, forwarders and the receiver
			add(2*in+1, merge(in, c), "channel.merge", "runner", "goroutine", "inputs", in, "cap", c)
		}
	}
	if !quick {
		for _, in := range []int{8, 64, 1024} {
			for _, c := range []int{0, 16} {
				add(in+1, mergeSparse(in, c), "channel.merge_sparse", "runner", "goroutine", "inputs", in, "cap", c)
			}
		}
	}
	selectCaps := []int{0, 1, 1024}
	if quick {
		selectCaps = []int{1}
	}
	for _, c := range selectCaps {
		add(selectThreads+1, selectRx(c), "channel.select_rx", "runner", "goroutine", "threads", selectThreads, "cap", c)
		add(2*selectThreads, selectBoth(c), "channel.select_both", "runner", "goroutine", "threads", selectThreads, "cap", c)
	}
	timeouts := []int64{0, 1000, 10000, 100000, 1000000, 10000000}
	if quick {
		timeouts = []int64{0, 100000}
	}
	for _, t := range timeouts {
		add(1, recvTimeout(time.Duration(t)), "timeout.recv_for", "timeout_ns", t)
	}
	cw := []int{1, 8, 64}
	if quick {
		cw = []int{1, 8}
	}
	rounds := int64(100)
	if quick {
		rounds = 5
	}
	for _, w := range cw {
		n, p := name("cancel.fanout", "go_errgroup", "runner", "goroutine", "workers", w)
		out = append(out, spec{n, "cancel.fanout", "go_errgroup", p, w + 1, errgroupCancel(w), rounds})
	}
	out = append(out, closureSpecs()...)
	return append(out, seedSpecs(quick)...)
}

func main() {
	if os.Getenv("CONPAT_GO_CHECK") == "panic_in_other_goroutine" {
		childPanicInOtherGoroutine() // the child process of recoverMissesOtherGoroutine
	}
	profile := flag.String("profile", "default", "quick, default or full (the sweep, as the C++ harness)")
	minTime := flag.Float64("min-time", 0.3, "seconds each benchmark runs at least")
	out := flag.String("out", "", "write the JSON here (default: stdout)")
	filter := flag.String("filter", "", "regular expression: run only matching benchmark names")
	list := flag.Bool("list", false, "list benchmark names and exit")
	flag.Parse()
	if *profile != "quick" && *profile != "default" && *profile != "full" {
		fmt.Fprintf(os.Stderr, "go_bench: -profile must be quick, default or full, not %q\n", *profile)
		os.Exit(2)
	}
	re, err := regexp.Compile(*filter)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go_bench: bad -filter: %v\n", err)
		os.Exit(2)
	}
	var selected []spec
	for _, s := range specs(*profile) {
		if re.MatchString(s.name + "/real_time") {
			selected = append(selected, s)
		}
	}
	if *list {
		for _, s := range selected {
			fmt.Println(s.name + "/real_time")
		}
		return
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "go_bench: the filter %q matches no benchmark\n", *filter)
		os.Exit(2)
	}
	var entries []entry
	for _, s := range selected {
		var r result
		if s.rounds > 0 {
			r = s.run(s.rounds)
		} else {
			r = measure(time.Duration(*minTime*float64(time.Second)), s.run)
		}
		e := toEntry(s.name, s.family, s.impl, s.params, s.threads, r)
		entries = append(entries, e)
		ns, _ := e["ns_per_item"].(float64)
		fmt.Printf("%-70s %12s ns/item\n", s.name, strconv.FormatFloat(ns, 'f', 1, 64))
	}
	doc := map[string]any{
		"context": map[string]any{"go_version": runtime.Version(), "go_runtime": goRuntime(), "gomaxprocs": runtime.GOMAXPROCS(0),
			"num_cpu": runtime.NumCPU(), "date": time.Now().UTC().Format(time.RFC3339),
			"impl_notes": map[string]string{"go_chan": goChanNote()}, "checks": seedChecks()},
		"benchmarks": entries,
	}
	data, _ := json.MarshalIndent(doc, "", "  ")
	if *out == "" {
		os.Stdout.Write(data)
		return
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "go_bench: %v\n", err)
		os.Exit(1)
	}
}
