//! conpat's channel workloads on Rust's crossbeam-channel and flume, for a
//! side-by-side with the C++ and Go implementations on the same machine.
//!
//! It writes Google Benchmark-shaped JSON entries with conpat's fields
//! (family, impl, params), the same family names and parameters as the C++
//! and Go harnesses, and the same definitions of time per item
//! (benches/README.md): an iteration moves a batch of 4096 items and ends
//! when the consumers have received all of them; latency is sampled on one
//! item in 64. Every workload checks what it received (count, sum, each
//! producer's order) and reports an error instead of a time when it is wrong.
//!
//! Standard library and the two channel crates only (Rust 1.63 or later).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const BATCH: u64 = 4096;
const LATENCY_STRIDE: u64 = 64;
const PRODUCER_SHIFT: u32 = 40;

// ---- the two implementations behind one interface --------------------------

enum TryRecv {
    Value(u64),
    Empty,
    Closed,
}

/// A bounded MPMC channel of u64: the operations the workloads use. A send
/// or receive returns false / None once the other side is gone (all
/// receivers or all senders dropped), Rust's form of a closed channel.
trait Flavor: 'static {
    const NAME: &'static str;
    type S: Clone + Send + 'static;
    type R: Clone + Send + 'static;
    fn bounded(cap: usize) -> (Self::S, Self::R);
    fn send(s: &Self::S, v: u64) -> bool;
    fn recv(r: &Self::R) -> Option<u64>;
    fn try_recv(r: &Self::R) -> TryRecv;
}

// crossbeam-channel and flume have the same API shape for what the
// workloads use: one Flavor impl each, written once.
macro_rules! flavor {
    ($ty:ident, $name:literal, $krate:ident) => {
        struct $ty;
        impl Flavor for $ty {
            const NAME: &'static str = $name;
            type S = $krate::Sender<u64>;
            type R = $krate::Receiver<u64>;
            fn bounded(cap: usize) -> (Self::S, Self::R) {
                $krate::bounded(cap)
            }
            fn send(s: &Self::S, v: u64) -> bool {
                s.send(v).is_ok()
            }
            fn recv(r: &Self::R) -> Option<u64> {
                r.recv().ok()
            }
            fn try_recv(r: &Self::R) -> TryRecv {
                match r.try_recv() {
                    Ok(v) => TryRecv::Value(v),
                    Err($krate::TryRecvError::Empty) => TryRecv::Empty,
                    Err($krate::TryRecvError::Disconnected) => TryRecv::Closed,
                }
            }
        }
    };
}
flavor!(Crossbeam, "crossbeam_channel", crossbeam_channel);
flavor!(Flume, "flume", flume);

// ---- timing, results, latency -----------------------------------------------

fn now_ns(base: Instant) -> i64 {
    base.elapsed().as_nanos() as i64
}

#[derive(Default)]
struct Outcome {
    iters: u64,
    elapsed: Duration,
    items: u64, // per iteration
    lat: Vec<i64>,
    extra: Vec<(&'static str, f64)>,
    err: Option<String>,
}

/// Runs body(n) with growing n until it takes at least min_time, as Google
/// Benchmark (and the Go harness) do, and returns the last run.
fn measure(min_time: Duration, body: &dyn Fn(u64) -> Outcome) -> Outcome {
    let mut n: u64 = 1;
    loop {
        let r = body(n);
        if r.err.is_some() || r.elapsed >= min_time || n >= 1 << 30 {
            return r;
        }
        let mut grow = (min_time.as_secs_f64() / (r.elapsed.as_secs_f64() + 1e-9) * 1.4 * n as f64) as u64;
        if grow <= n {
            grow = n * 2;
        }
        if grow > n * 10 {
            grow = n * 10;
        }
        n = grow;
    }
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    let idx = ((p * (sorted.len() - 1) as f64) + 0.5) as usize;
    sorted[idx.min(sorted.len() - 1)] as f64
}

/// A round's end, signalled by whichever consumer completes it and awaited
/// by the timing thread (a mutex and a condition variable: the same
/// cost for both implementations).
#[derive(Default)]
struct Signal {
    count: Mutex<u64>,
    cv: Condvar,
}

impl Signal {
    fn post(&self) {
        *self.count.lock().unwrap() += 1;
        self.cv.notify_all();
    }
    /// Waits until `target` posts have been made in all.
    fn wait_for(&self, target: u64) {
        let mut c = self.count.lock().unwrap();
        while *c < target {
            c = self.cv.wait(c).unwrap();
        }
    }
}

// ---- channel.spsc -------------------------------------------------------------

/// The timing thread produces, one thread consumes.
fn spsc<F: Flavor>(cap: usize, n: u64) -> Outcome {
    let base = Instant::now();
    let (s, r) = F::bounded(cap);
    let stamps: Arc<Vec<AtomicI64>> = Arc::new((0..BATCH).map(|_| AtomicI64::new(0)).collect());
    let round = Arc::new(Signal::default());
    let consumer = {
        let (stamps, round) = (stamps.clone(), round.clone());
        thread::spawn(move || {
            // Tallies in the thread's own locals, returned at the end (as
            // the C++ and Go harnesses do: neither measures false sharing).
            let (mut sum, mut count, mut in_order) = (0u64, 0u64, true);
            let mut lat = Vec::new();
            while let Some(v) = F::recv(&r) {
                if v % LATENCY_STRIDE == 0 {
                    lat.push(now_ns(base) - stamps[(v % BATCH) as usize].load(Ordering::Relaxed));
                }
                in_order &= v == count;
                sum = sum.wrapping_add(v);
                count += 1;
                if count % BATCH == 0 {
                    round.post();
                }
            }
            (sum, count, in_order, lat)
        })
    };
    let (mut next, mut sent_sum, mut ok) = (0u64, 0u64, true);
    let t0 = Instant::now();
    for it in 0..n {
        for _ in 0..BATCH {
            if next % LATENCY_STRIDE == 0 {
                stamps[(next % BATCH) as usize].store(now_ns(base), Ordering::Relaxed);
            }
            ok &= F::send(&s, next);
            sent_sum = sent_sum.wrapping_add(next);
            next += 1;
        }
        if !ok {
            break;
        }
        round.wait_for(it + 1);
    }
    let elapsed = t0.elapsed();
    drop(s);
    let (got_sum, got_count, in_order, lat) = consumer.join().expect("spsc consumer panicked");
    let mut o = Outcome { iters: n, elapsed, items: BATCH, lat, ..Default::default() };
    if !ok || !in_order || got_count != next || got_sum != sent_sum {
        o.err = Some("wrong result: items lost or out of order".into());
    }
    o
}

// ---- channel.mpmc -------------------------------------------------------------

/// P producer and C consumer threads, started before the timed loop; each
/// round every producer sends its share of the batch, and the round ends
/// when the consumers have received the whole batch.
fn mpmc<F: Flavor>(cap: usize, producers: usize, consumers: usize, n: u64) -> Outcome {
    let base = Instant::now();
    let (s, r) = F::bounded(cap);
    let share = BATCH / producers as u64;
    let total = share * producers as u64;
    let stamps: Arc<Vec<AtomicI64>> = Arc::new((0..total).map(|_| AtomicI64::new(0)).collect());
    let consumed = Arc::new(AtomicU64::new(0));
    let round = Arc::new(Signal::default());
    // The producers' gate: a round number they wait to see change.
    let gate = Arc::new((Mutex::new((0u64, false)), Condvar::new()));
    let bad = Arc::new(AtomicBool::new(false));
    let mut cons = Vec::new();
    for _ in 0..consumers {
        let (r, stamps, consumed, round, bad) = (r.clone(), stamps.clone(), consumed.clone(), round.clone(), bad.clone());
        cons.push(thread::spawn(move || {
            let mut last = vec![-1i64; producers];
            let (mut sum, mut count, mut unflushed) = (0u64, 0u64, 0u64);
            let mut lat = Vec::new();
            // Progress is published in bulk, every 256 items or when the
            // channel runs dry (as the C++ and Go consumers do).
            let flush = |unflushed: &mut u64| {
                if *unflushed == 0 {
                    return;
                }
                let t = consumed.fetch_add(*unflushed, Ordering::AcqRel) + *unflushed;
                *unflushed = 0;
                if t % total == 0 {
                    round.post();
                }
            };
            loop {
                let v = match F::try_recv(&r) {
                    TryRecv::Value(v) => v,
                    TryRecv::Closed => break,
                    TryRecv::Empty => {
                        flush(&mut unflushed);
                        match F::recv(&r) {
                            Some(v) => v,
                            None => break,
                        }
                    }
                };
                let p = (v >> PRODUCER_SHIFT) as usize;
                let seq = (v & ((1u64 << PRODUCER_SHIFT) - 1)) as i64;
                if p >= producers || seq <= last[p] {
                    bad.store(true, Ordering::Relaxed);
                } else {
                    last[p] = seq;
                }
                if p < producers && seq as u64 % LATENCY_STRIDE == 0 {
                    let at = p as u64 * share + seq as u64 % share;
                    lat.push(now_ns(base) - stamps[at as usize].load(Ordering::Relaxed));
                }
                sum = sum.wrapping_add(v);
                count += 1;
                unflushed += 1;
                if unflushed == 256 {
                    flush(&mut unflushed);
                }
            }
            flush(&mut unflushed);
            (sum, count, lat)
        }));
    }
    drop(r);
    let mut prods = Vec::new();
    for p in 0..producers {
        let (s, stamps, gate) = (s.clone(), stamps.clone(), gate.clone());
        prods.push(thread::spawn(move || {
            let (mut seq, mut sum, mut count, mut seen) = (0u64, 0u64, 0u64, 0u64);
            loop {
                {
                    let (m, cv) = &*gate;
                    let mut g = m.lock().unwrap();
                    while g.0 == seen && !g.1 {
                        g = cv.wait(g).unwrap();
                    }
                    if g.1 {
                        break;
                    }
                    seen = g.0;
                }
                for i in 0..share {
                    if seq % LATENCY_STRIDE == 0 {
                        stamps[(p as u64 * share + i) as usize].store(now_ns(base), Ordering::Relaxed);
                    }
                    let v = (p as u64) << PRODUCER_SHIFT | seq;
                    if !F::send(&s, v) {
                        return (sum, count);
                    }
                    sum = sum.wrapping_add(v);
                    count += 1;
                    seq += 1;
                }
            }
            (sum, count)
        }));
    }
    drop(s);
    let open_round = |stop: bool| {
        let (m, cv) = &*gate;
        let mut g = m.lock().unwrap();
        if stop {
            g.1 = true;
        } else {
            g.0 += 1;
        }
        cv.notify_all();
    };
    let t0 = Instant::now();
    for it in 0..n {
        open_round(false);
        round.wait_for(it + 1);
    }
    let elapsed = t0.elapsed();
    open_round(true);
    let (mut sent_sum, mut sent_count) = (0u64, 0u64);
    for h in prods {
        let (s, c) = h.join().expect("mpmc producer panicked");
        sent_sum = sent_sum.wrapping_add(s);
        sent_count += c;
    }
    let (mut got_sum, mut got_count, mut lat) = (0u64, 0u64, Vec::new());
    for h in cons {
        let (s, c, l) = h.join().expect("mpmc consumer panicked");
        got_sum = got_sum.wrapping_add(s);
        got_count += c;
        lat.extend(l);
    }
    let mut o = Outcome { iters: n, elapsed, items: total, lat, ..Default::default() };
    if bad.load(Ordering::Relaxed) || got_count != sent_count || got_sum != sent_sum || sent_count != n * total {
        o.err = Some("wrong result: items lost or out of order".into());
    }
    o
}

// ---- channel.pingpong ---------------------------------------------------------

/// One round trip per iteration over two channels, an echo thread between.
fn pingpong<F: Flavor>(cap: usize, n: u64) -> Outcome {
    let base = Instant::now();
    let (ping_s, ping_r) = F::bounded(cap);
    let (pong_s, pong_r) = F::bounded(cap);
    let echo = thread::spawn(move || {
        while let Some(v) = F::recv(&ping_r) {
            if !F::send(&pong_s, v + 1) {
                break;
            }
        }
    });
    let mut lat = Vec::with_capacity((n / 16 + 1) as usize);
    let mut bad = 0u64;
    let t0 = Instant::now();
    for i in 0..n {
        let sample = i % 16 == 0;
        let s0 = if sample { now_ns(base) } else { 0 };
        let back = if F::send(&ping_s, i) { F::recv(&pong_r) } else { None };
        if sample {
            lat.push(now_ns(base) - s0);
        }
        if back != Some(i + 1) {
            bad += 1;
        }
    }
    let elapsed = t0.elapsed();
    drop(ping_s);
    echo.join().expect("pingpong echo panicked");
    let mut o = Outcome { iters: n, elapsed, items: 1, lat, ..Default::default() };
    if bad != 0 {
        o.err = Some("wrong result: echo returned wrong values".into());
    }
    o
}

// ---- channel.fan_in -------------------------------------------------------------

/// Each iteration: N threads each send one result (worker i sends 3 i); the
/// timing thread receives N and checks their sum.
fn fan_in<F: Flavor>(workers: u64, cap: usize, n: u64) -> Outcome {
    let live = Arc::new(AtomicI64::new(0));
    let peak = Arc::new(AtomicI64::new(0));
    let want = 3 * workers * (workers.saturating_sub(1)) / 2;
    let mut bad = 0u64;
    let t0 = Instant::now();
    for _ in 0..n {
        let (s, r) = F::bounded(cap);
        let mut hs = Vec::with_capacity(workers as usize);
        for i in 0..workers {
            let (s, live, peak) = (s.clone(), live.clone(), peak.clone());
            hs.push(thread::spawn(move || {
                let now = live.fetch_add(1, Ordering::AcqRel) + 1;
                peak.fetch_max(now, Ordering::AcqRel);
                F::send(&s, 3 * i);
                live.fetch_sub(1, Ordering::AcqRel);
            }));
        }
        drop(s);
        let (mut sum, mut count) = (0u64, 0u64);
        for _ in 0..workers {
            match F::recv(&r) {
                Some(v) => {
                    sum += v;
                    count += 1;
                }
                None => break,
            }
        }
        for h in hs {
            h.join().expect("fan_in worker panicked");
        }
        if count != workers || sum != want {
            bad += 1;
        }
    }
    let elapsed = t0.elapsed();
    let mut o = Outcome { iters: n, elapsed, items: workers, ..Default::default() };
    o.extra.push(("peak_workers", peak.load(Ordering::Relaxed) as f64));
    if bad != 0 {
        o.err = Some(format!("wrong result: {} round(s) lost results", bad));
    }
    o
}

// ---- channel.seq ----------------------------------------------------------------

/// One thread sends N items into a channel of capacity N, then receives
/// them (crossbeam's `seq`): the cost of an uncontended operation.
fn seq<F: Flavor>(cap: usize, n: u64) -> Outcome {
    let (s, r) = F::bounded(cap);
    let (mut next, mut sent_sum, mut got_sum, mut got_count, mut in_order) = (0u64, 0u64, 0u64, 0u64, true);
    let t0 = Instant::now();
    for _ in 0..n {
        let first = next;
        for _ in 0..cap {
            if !F::send(&s, next) {
                in_order = false;
            }
            sent_sum = sent_sum.wrapping_add(next);
            next += 1;
        }
        for k in 0..cap as u64 {
            match F::recv(&r) {
                Some(v) => {
                    in_order &= v == first + k;
                    got_sum = got_sum.wrapping_add(v);
                    got_count += 1;
                }
                None => in_order = false,
            }
        }
    }
    let elapsed = t0.elapsed();
    let mut o = Outcome { iters: n, elapsed, items: cap as u64, ..Default::default() };
    if !in_order || got_count != next || got_sum != sent_sum {
        o.err = Some("wrong result: items lost or out of order".into());
    }
    o
}

// ---- the benchmark list -------------------------------------------------------

struct Spec {
    name: String,
    family: &'static str,
    imp: &'static str,
    params: Vec<(&'static str, String)>,
    threads: usize,
    run: Box<dyn Fn(u64) -> Outcome>,
}

fn name_of(family: &str, imp: &str, params: &[(&'static str, String)]) -> String {
    let mut s = format!("{}/impl:{}", family, imp);
    for (k, v) in params {
        let _ = write!(s, "/{}:{}", k, v);
    }
    s
}

fn kv(pairs: &[(&'static str, u64)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn specs_for<F: Flavor>(profile: &str, ncpu: usize, out: &mut Vec<Spec>) {
    let quick = profile == "quick";
    let mut add = |family: &'static str, params: Vec<(&'static str, String)>, threads: usize, run: Box<dyn Fn(u64) -> Outcome>| {
        let name = name_of(family, F::NAME, &params);
        out.push(Spec { name, family, imp: F::NAME, params, threads, run });
    };
    let caps: &[u64] = if quick { &[0, 16, 1024] } else { &[0, 1, 16, 64, 256, 1024, 4096] };
    for &c in caps {
        add("channel.spsc", kv(&[("cap", c), ("payload", 8), ("work", 0)]), 2, Box::new(move |n| spsc::<F>(c as usize, n)));
    }
    // As the C++ and Go sides: k x k from 2 x 2 until 2k threads are twice
    // the CPUs (at least 8 x 8), 1 x 4, 4 x 1; capacities 0 and 1 (the
    // rendezvous and the one-slot buffer) at 4 x 1 and 4 x 4.
    let mut shapes: Vec<(u64, u64)> = vec![(1, 4), (4, 1)];
    let mut k = 2;
    while k <= 8 || k <= ncpu as u64 {
        shapes.push((k, k));
        k *= 2;
    }
    let mut mcaps: &[u64] = &[16, 1024];
    if quick {
        shapes = vec![(2, 2), (4, 1)];
        mcaps = &[16];
    }
    for &(p, c) in &shapes {
        let small: &[u64] = if (p, c) == (4, 1) || (!quick && (p, c) == (4, 4)) { &[0, 1] } else { &[] };
        for &cap in small.iter().chain(mcaps.iter()) {
            add("channel.mpmc", kv(&[("cap", cap), ("producers", p), ("consumers", c)]), (p + c) as usize,
                Box::new(move |n| mpmc::<F>(cap as usize, p as usize, c as usize, n)));
        }
    }
    for c in [0u64, 1] {
        add("channel.pingpong", kv(&[("cap", c)]), 2, Box::new(move |n| pingpong::<F>(c as usize, n)));
    }
    let fan: &[u64] = if quick { &[16, 1024] } else { &[16, 1024, 10000] };
    for &w in fan {
        let mut params = vec![("runner", "thread".to_string())];
        params.extend(kv(&[("workers", w), ("cap", 64)]));
        add("channel.fan_in", params, (w + 1) as usize, Box::new(move |n| fan_in::<F>(w, 64, n)));
    }
    add("channel.seq", kv(&[("cap", BATCH)]), 1, Box::new(move |n| seq::<F>(BATCH as usize, n)));
}

/// Whether the implementation has a rendezvous: a capacity-0 send that
/// completes only when a receiver takes the value (probed, not assumed:
/// a version that treats bounded(0) otherwise gets no cap:0 rows).
fn has_rendezvous<F: Flavor>() -> bool {
    let (s, r) = F::bounded(0);
    let handed = Arc::new(AtomicBool::new(false));
    let h = {
        let (s, handed) = (s.clone(), handed.clone());
        thread::spawn(move || {
            let ok = F::send(&s, 7);
            handed.store(true, Ordering::Release);
            ok
        })
    };
    // With no receiver for 20 ms, a rendezvous send is still blocked.
    thread::sleep(Duration::from_millis(20));
    let blocked = !handed.load(Ordering::Acquire);
    let got = F::recv(&r);
    let sent = h.join().unwrap_or(false);
    drop(s);
    blocked && sent && got == Some(7)
}

fn specs(profile: &str) -> (Vec<Spec>, Vec<String>) {
    let ncpu = thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut out = Vec::new();
    let mut notes = Vec::new();
    specs_for::<Crossbeam>(profile, ncpu, &mut out);
    let before = out.len();
    specs_for::<Flume>(profile, ncpu, &mut out);
    if !has_rendezvous::<Flume>() {
        let mut kept = out.split_off(before);
        kept.retain(|s| !s.params.iter().any(|(k, v)| *k == "cap" && v == "0"));
        out.extend(kept);
        notes.push("flume: bounded(0) is no rendezvous in this version; its cap:0 rows are left out".to_string());
    }
    (out, notes)
}

// ---- JSON out -------------------------------------------------------------------

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{}", v)
    } else {
        "null".into()
    }
}

fn entry(s: &Spec, r: &mut Outcome, ncpu: usize) -> String {
    let mut e = String::from("{");
    let rn = json_str(&format!("{}/real_time", s.name));
    let params: Vec<String> = s
        .params
        .iter()
        .map(|(k, v)| match v.parse::<i64>() {
            Ok(i) => format!("{}: {}", json_str(k), i),
            Err(_) => format!("{}: {}", json_str(k), json_str(v)),
        })
        .collect();
    let _ = write!(
        e,
        "\"name\": {rn}, \"run_name\": {rn}, \"run_type\": \"iteration\", \"repetitions\": 1, \"repetition_index\": 0, \
         \"threads\": 1, \"family\": {}, \"impl\": {}, \"params\": {{{}}}, \"time_unit\": \"ns\", \"iterations\": {}, \
         \"oversubscribed\": {}, \"threads_used\": {}, \"runner\": \"thread\"",
        json_str(s.family),
        json_str(s.imp),
        params.join(", "),
        r.iters,
        s.threads > ncpu,
        s.threads
    );
    if let Some(err) = &r.err {
        let _ = write!(e, ", \"error_occurred\": true, \"error_message\": {}}}", json_str(err));
        return e;
    }
    let per_iter = r.elapsed.as_nanos() as f64 / r.iters as f64;
    let items = (r.items * r.iters) as f64;
    let _ = write!(
        e,
        ", \"real_time\": {}, \"cpu_time\": {}, \"items_per_second\": {}, \"ns_per_item\": {}",
        json_num(per_iter),
        json_num(per_iter),
        json_num(items / r.elapsed.as_secs_f64()),
        json_num(r.elapsed.as_nanos() as f64 / items)
    );
    if !r.lat.is_empty() {
        r.lat.sort_unstable();
        for (suffix, p) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
            let _ = write!(e, ", \"lat_{}_ns\": {}", suffix, json_num(percentile(&r.lat, p)));
        }
        let _ = write!(e, ", \"lat_samples\": {}", r.lat.len());
    }
    for (k, v) in &r.extra {
        let _ = write!(e, ", {}: {}", json_str(k), json_num(*v));
    }
    e.push('}');
    e
}

// ---- command line -----------------------------------------------------------------

const USAGE: &str = "usage: conpat_rust_bench [--profile quick|default|full] [--min-time SECONDS] [--out FILE] \
[--names FILE] [--list]

Runs conpat's channel workloads (channel.spsc, channel.mpmc, channel.pingpong,
channel.fan_in, channel.seq) on crossbeam-channel and flume and writes Google
Benchmark-shaped JSON (scripts/bench.py merges it into a conpat results file).

  --profile P     the sweep, as the C++ and Go harnesses (default: default)
  --min-time S    seconds each benchmark runs at least (default 0.3)
  --out FILE      write the JSON here (default: stdout)
  --names FILE    run only the benchmarks named in FILE, one per line, as --list prints them
  --list          print the benchmark names and exit";

fn fail(msg: &str) -> ! {
    eprintln!("conpat_rust_bench: {}", msg);
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut profile, mut min_time, mut out, mut names, mut list) = ("default".to_string(), 0.3f64, None, None, false);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (a, None),
        };
        let mut value = || -> String {
            if let Some(v) = inline.clone() {
                return v;
            }
            i += 1;
            args.get(i).cloned().unwrap_or_else(|| fail(&format!("{} needs a value (see --help)", key)))
        };
        match key {
            "-h" | "--help" => {
                println!("{}", USAGE);
                return;
            }
            "--profile" => profile = value(),
            "--min-time" => {
                let v = value();
                min_time = v.parse().unwrap_or_else(|_| fail(&format!("--min-time: '{}' is not a number", v)));
                if !(min_time > 0.0) {
                    fail("--min-time must be positive");
                }
            }
            "--out" => out = Some(value()),
            "--names" => names = Some(value()),
            "--list" => list = true,
            _ => fail(&format!("unknown option '{}' (see --help)", a)),
        }
        i += 1;
    }
    if !["quick", "default", "full"].contains(&profile.as_str()) {
        fail(&format!("--profile must be quick, default or full, not '{}'", profile));
    }
    let (all, notes) = specs(&profile);
    let selected: Vec<&Spec> = match &names {
        None => all.iter().collect(),
        Some(path) => {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("--names {}: {}", path, e)));
            let wanted: HashSet<&str> = text.lines().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
            let known: HashSet<String> = all.iter().map(|s| format!("{}/real_time", s.name)).collect();
            if let Some(unknown) = wanted.iter().find(|w| !known.contains(**w)) {
                fail(&format!("--names {}: no benchmark '{}' (see --list)", path, unknown));
            }
            all.iter().filter(|s| wanted.contains(format!("{}/real_time", s.name).as_str())).collect()
        }
    };
    if list {
        for s in &selected {
            println!("{}/real_time", s.name);
        }
        return;
    }
    if selected.is_empty() {
        fail("no benchmark selected");
    }
    let ncpu = thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let min = Duration::from_secs_f64(min_time);
    let mut entries = Vec::new();
    for s in &selected {
        let mut r = measure(min, &*s.run);
        let e = entry(s, &mut r, ncpu);
        match &r.err {
            Some(err) => println!("{:<70} ERROR: {}", s.name, err),
            None => println!("{:<70} {:>12.1} ns/item", s.name, r.elapsed.as_nanos() as f64 / (r.items * r.iters) as f64),
        }
        entries.push(e);
    }
    let notes_json: Vec<String> = notes.iter().map(|n| json_str(n)).collect();
    let doc = format!(
        "{{\"context\": {{\"num_cpu\": {}, \"profile\": {}, \"notes\": [{}]}},\n\"benchmarks\": [\n{}\n]}}\n",
        ncpu,
        json_str(&profile),
        notes_json.join(", "),
        entries.join(",\n")
    );
    match out {
        None => print!("{}", doc),
        Some(path) => {
            if let Err(e) = std::fs::write(&path, doc) {
                eprintln!("conpat_rust_bench: {}: {}", path, e);
                std::process::exit(1);
            }
        }
    }
}
