// benches/harness/main.cpp — the conpat_bench entry point.
//
// Runs the registered families through Google Benchmark, then rewrites
// Google Benchmark's JSON into conpat's results format: the same document,
// extended with context.conpat (machine, build, libraries, profile, times,
// warnings) and, on every benchmark, family / impl / params parsed from its
// name. The file is written to a temporary name and renamed; an existing
// file is never overwritten.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checks.hpp"
#include "harness.hpp"
#include "metadata.hpp"
#include "pinning.hpp"
#include "probe.hpp"

namespace conpat::bench {
namespace {

std::vector<FamilyRegistrar>& registrars() {
  static std::vector<FamilyRegistrar> r;
  return r;
}

Options g_options;
std::map<std::string, benchmark::IterationCount> g_fixed_iterations;  // --conpat_iterations

constexpr const char* kUsage = R"(conpat_bench — conpat's benchmark harness (Google Benchmark inside).

Usage: conpat_bench [conpat options] [Google Benchmark options]

conpat options:
  --conpat_profile=quick|default|full  sweep size (default: default)
  --conpat_out=PATH         write the extended results JSON to PATH (must not exist)
  --conpat_machine=LABEL    machine label stored in the results (default: hostname)
  --conpat_git=SHA          git commit to record (default: the one configured)
  --conpat_git_dirty=0|1    whether the tree had local changes
  --conpat_watchdog=SECONDS a benchmark round with no progress for this long fails (default 30)
  --conpat_pin=0|1          pin the benchmarks' own threads to distinct allowed CPUs
                            (default 0; recorded in context.conpat.pinning)
  --conpat_iterations=FILE  fix the iteration count of the benchmarks named in FILE, a JSON
                            object {"<name as listed, without /real_time>": count, ...},
                            instead of Google Benchmark's estimate per sample (abtest's later
                            passes: a sample then costs its minimum time once, not about
                            2.5 times). Google Benchmark adds /iterations:N to their names;
                            the results' family/impl/params ignore it
  --conpat_cpus=N           with --benchmark_list_tests: list what a machine with N logical CPUs
                            (and N cores) would run; the sweeps of thread, writer and worker
                            counts reach the CPUs (powers of two up to N, N, 2N)
  --conpat_probe            measure the machine's state (core-to-core and futex wake round
                            trips, about 0.1 s), print it as one JSON line and exit
  --conpat_help             this text

Every Google Benchmark flag works (--benchmark_filter, --benchmark_min_time,
--benchmark_repetitions, --benchmark_list_tests, ...; see --help).
A filter that matches no benchmark is an error (exit code 2).
Names are data: family/impl:NAME/key:value/...
)";

bool take_flag(const char* arg, const char* name, std::string& value) {
  std::size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  value = arg + n + 1;
  return true;
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "conpat_bench: " << msg << " (see --conpat_help)\n";
  std::exit(2);
}

}  // namespace

const Options& options() { return g_options; }

int add_family(FamilyRegistrar fn) {
  registrars().push_back(fn);
  return static_cast<int>(registrars().size());
}

bool check_transfer(benchmark::State& state, std::uint64_t sent_count, std::uint64_t sent_sum,
                    std::uint64_t got_count, std::uint64_t got_sum) {
  if (sent_count == got_count && sent_sum == got_sum) return true;
  std::string msg = "wrong result: sent " + std::to_string(sent_count) + " items (sum " + std::to_string(sent_sum) +
                    "), received " + std::to_string(got_count) + " (sum " + std::to_string(got_sum) + ")";
  state.SkipWithError(msg.c_str());
  return false;
}

double local_work_ns(int units) {
  if (units <= 0) return 0;
  static std::mutex mu;
  static std::map<int, double> cache;
  std::lock_guard lk(mu);
  if (auto it = cache.find(units); it != cache.end()) return it->second;
  const long calls = std::max(16L, 2'000'000L / (units + 2));
  double best = 1e18;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) {
      local_work(units);
      benchmark::ClobberMemory();
    }
    best = std::min(best, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
                              static_cast<double>(calls));
  }
  return cache[units] = best;
}

int sweep_cpus() { return g_options.cpus > 0 ? g_options.cpus : static_cast<int>(hardware_threads()); }

int sweep_physical_cores() {
  return g_options.cpus > 0 ? g_options.cpus : std::min(physical_cores(), static_cast<int>(hardware_threads()));
}

std::vector<int> cpu_counts(int cpus, bool quick) {
  cpus = std::max(1, cpus);
  if (quick) return cpus >= 2 ? std::vector<int>{1, cpus} : std::vector<int>{1, 2};
  std::vector<int> out;
  for (int k = 1; k < cpus; k *= 2) out.push_back(k);
  out.push_back(cpus);
  out.push_back(2 * cpus);
  return out;
}

unsigned hardware_threads() {
  // The CPUs this process may run on (taskset, cgroups), not all online ones:
  // under `taskset -c 0` a two-thread benchmark is oversubscribed.
  if (!allowed_cpus().empty()) return static_cast<unsigned>(allowed_cpus().size());
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// Reads --conpat_iterations' file; exits with a usage error on bad input.
void read_fixed_iterations(const std::string& path) {
  std::ifstream in(path);
  if (!in) usage_error("--conpat_iterations: cannot read '" + path + "'");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) usage_error("--conpat_iterations: '" + path + "' is not a JSON object {name: count}");
  for (const auto& [name, count] : j.items()) {
    if (!count.is_number_integer() || count.get<long long>() < 1) {
      usage_error("--conpat_iterations: the count of '" + name + "' is not a positive integer");
    }
    g_fixed_iterations[name] = count.get<benchmark::IterationCount>();
  }
}

benchmark::IterationCount fixed_iterations(const std::string& name) {
  auto it = g_fixed_iterations.find(name);
  return it == g_fixed_iterations.end() ? 0 : it->second;
}

}  // namespace conpat::bench

int main(int argc, char** argv) {
  using namespace conpat::bench;
  allowed_cpus();  // read the process's CPU set before any thread is pinned
  RunInfo info;
  std::string out_path, profile = "default";
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string v;
    const char* a = argv[i];
    if (std::strcmp(a, "--conpat_help") == 0 || std::strcmp(a, "-h") == 0) {
      std::cout << kUsage;
      return 0;
    } else if (std::strcmp(a, "--conpat_probe") == 0) {
      std::cout << probe_machine().dump() << "\n";
      return 0;
    } else if (take_flag(a, "--conpat_profile", v)) {
      profile = v;
    } else if (take_flag(a, "--conpat_out", v)) {
      out_path = v;
    } else if (take_flag(a, "--conpat_machine", v)) {
      info.machine = v;
    } else if (take_flag(a, "--conpat_git", v)) {
      info.git_commit = v;
    } else if (take_flag(a, "--conpat_git_dirty", v)) {
      if (v != "0" && v != "1") usage_error("--conpat_git_dirty takes 0 or 1, not '" + v + "'");
      info.git_dirty = v == "1";
    } else if (take_flag(a, "--conpat_pin", v)) {
      if (v != "0" && v != "1") usage_error("--conpat_pin takes 0 or 1, not '" + v + "'");
      g_options.pin_threads = v == "1";
    } else if (take_flag(a, "--conpat_watchdog", v)) {
      char* end = nullptr;
      double s = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(s > 0)) usage_error("--conpat_watchdog takes seconds > 0, not '" + v + "'");
      g_options.watchdog_seconds = s;
    } else if (take_flag(a, "--conpat_iterations", v)) {
      read_fixed_iterations(v);
    } else if (take_flag(a, "--conpat_cpus", v)) {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 1 || n > 4096) usage_error("--conpat_cpus takes 1 to 4096, not '" + v + "'");
      g_options.cpus = static_cast<int>(n);
    } else if (std::strncmp(a, "--conpat_", 9) == 0) {
      usage_error(std::string("unknown option '") + a + "'");
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (profile == "quick") {
    g_options.profile = Profile::quick;
  } else if (profile == "default") {
    g_options.profile = Profile::standard;
  } else if (profile == "full") {
    g_options.profile = Profile::full;
  } else {
    usage_error("--conpat_profile must be quick, default or full, not '" + profile + "'");
  }
  info.profile = profile;

  if (g_options.cpus > 0) {
    bool listing_only = false;
    for (char* a : rest) listing_only |= std::strncmp(a, "--benchmark_list_tests", 22) == 0 &&
                                         std::strcmp(a, "--benchmark_list_tests=false") != 0;
    if (!listing_only) usage_error("--conpat_cpus only sizes a listing: add --benchmark_list_tests");
  }
  for (auto fn : registrars()) fn(g_options);

  // Google Benchmark writes its own JSON to a scratch file beside the
  // output; conpat then extends it.
  std::string gb_out;
  std::string out_flag, fmt_flag = "--benchmark_out_format=json";
  if (!out_path.empty()) {
    if (std::filesystem::exists(out_path)) usage_error("output file '" + out_path + "' exists; conpat never overwrites results");
    gb_out = out_path + ".gbench.tmp";
    out_flag = "--benchmark_out=" + gb_out;
    rest.push_back(out_flag.data());
    rest.push_back(fmt_flag.data());
  }
  int rest_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;

  bool listing = false;
  for (char* a : rest) listing |= a != nullptr && std::strncmp(a, "--benchmark_list_tests", 22) == 0;
  if (!listing) warn_about_conditions(info);
  // Before any benchmark thread exists: one check forks a child process.
  nlohmann::json checks = listing || out_path.empty() ? nlohmann::json() : run_checks();
  info.start_time = utc_now_iso();
  std::size_t ran = benchmark::RunSpecifiedBenchmarks();
  info.end_time = utc_now_iso();
  benchmark::Shutdown();
  if (ran == 0) {
    std::cerr << "conpat_bench: no benchmark matches the filter '" << benchmark::GetBenchmarkFilter()
              << "' (list them with --benchmark_list_tests)\n";
    if (!gb_out.empty()) std::filesystem::remove(gb_out);
    return 2;
  }
  if (out_path.empty()) return 0;

  try {
    nlohmann::json doc;
    {
      std::ifstream in(gb_out);
      doc = nlohmann::json::parse(in);
    }
    extend_results(doc, info);
    doc["context"]["conpat"]["checks"] = checks;
    doc["context"]["conpat"]["pinning"] = pinning_context();
    write_new_file(out_path, doc.dump(2) + "\n");
    std::filesystem::remove(gb_out);
  } catch (const std::exception& e) {
    std::cerr << "conpat_bench: could not write " << out_path << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
