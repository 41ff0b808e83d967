// benches/harness/probe.hpp — a short measurement of the machine's state:
// the core-to-core round trip (two threads on distinct CPUs bouncing one
// cache line) and the futex wake round trip (two threads waking each other
// through the kernel). This VM's cross-core latency moves between states
// during a run while steal time stays near zero, so bench.py runs the probe
// before every pass and marks the repetitions taken in a different state.
#pragma once

#include <nlohmann/json.hpp>

namespace conpat::bench {

// {"c2c_round_trip_ns": median (null with one allowed CPU), "c2c_batches": [...], "futex_round_trip_ns": median,
//  "futex_batches": [...], "cpus": [a, b] or null, "pinned": bool}. Takes about 0.1 s.
nlohmann::json probe_machine();

// A short core-to-core round trip (3 batches of 500, median; about 0.1 ms in
// the usual state, 1-2 ms in the slow one), taken around every benchmark
// sample (counter state_c2c_ns) so that a sample taken while the machine
// was in another state can be told apart. 0 when two CPUs are not available.
double sample_c2c_ns();

}  // namespace conpat::bench
