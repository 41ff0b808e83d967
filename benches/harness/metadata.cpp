#include "metadata.hpp"

#include <benchmark/benchmark.h>
#include <boost/version.hpp>
#include <oneapi/tbb/version.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "conpat/padding.hpp"
#include "harness.hpp"

#ifndef CONPAT_CXX_FLAGS
#define CONPAT_CXX_FLAGS "unknown"
#endif
#ifndef CONPAT_BUILD_TYPE
#define CONPAT_BUILD_TYPE "unknown"
#endif
#ifndef CONPAT_GIT_COMMIT
#define CONPAT_GIT_COMMIT "unknown"
#endif
#ifndef CONPAT_BENCHMARK_VERSION
#define CONPAT_BENCHMARK_VERSION "unknown"
#endif

namespace conpat::bench {
namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(' '));
        return v;
      }
    }
  }
  return "";
}

nlohmann::json caches() {
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < 8; ++i) {
    std::string base = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::string level = read_first_line(base + "level");
    if (level.empty()) break;
    out.push_back({{"level", std::stoi(level)},
                   {"type", read_first_line(base + "type")},
                   {"size", read_first_line(base + "size")},
                   {"line_bytes", read_first_line(base + "coherency_line_size")},
                   {"shared_cpu_list", read_first_line(base + "shared_cpu_list")}});
  }
  return out;
}

std::string governor() {
  std::string g = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  return g.empty() ? "unavailable" : g;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  std::string h = buf;
  return h.substr(0, h.find('.'));
}

bool optimised_build() {
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  return true;
#else
  return false;
#endif
}

// Google Benchmark's own suffixes, not conpat parameters (`threads:` is
// kept: conpat names its thread counts that way and never uses ->Threads()).
const std::set<std::string>& gbench_keys() {
  static const std::set<std::string> k{"iterations", "repeats", "min_time", "min_warmup_time"};
  return k;
}

nlohmann::json param_value(const std::string& v) {
  if (v.empty()) return v;
  char* end = nullptr;
  long long i = std::strtoll(v.c_str(), &end, 10);
  if (*end == '\0') return i;
  double d = std::strtod(v.c_str(), &end);
  if (*end == '\0') return d;
  return v;
}

}  // namespace

int physical_cores() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, phys;
  std::set<std::string> cores;
  while (std::getline(in, line)) {
    if (line.rfind("physical id", 0) == 0) phys = line.substr(line.find(':') + 1);
    if (line.rfind("core id", 0) == 0) cores.insert(phys + "/" + line.substr(line.find(':') + 1));
  }
  return cores.empty() ? static_cast<int>(hardware_threads()) : static_cast<int>(cores.size());
}


std::map<std::string, std::string>& impl_notes() {
  static std::map<std::string, std::string> notes;
  return notes;
}

std::string utc_now_iso() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void warn_about_conditions(RunInfo& info) {
  if (!optimised_build()) {
    info.warnings.push_back("build is not optimised (need -O2 and NDEBUG): timings are not representative");
  }
  std::string g = governor();
  if (g != "performance") {
    info.warnings.push_back("CPU governor is '" + g + "', not 'performance': frequency may vary during the run");
  }
  for (const auto& w : info.warnings) std::cerr << "conpat_bench: warning: " << w << "\n";
}

nlohmann::json machine_context(const RunInfo& info) {
  utsname u{};
  uname(&u);
  std::string smt = read_first_line("/sys/devices/system/cpu/smt/active");
  unsigned hw = hardware_threads();
  int phys = physical_cores();
  return {
      {"schema_version", 1},
      {"machine", info.machine.empty() ? hostname() : info.machine},
      {"hostname", hostname()},
      {"cpu_model", cpuinfo_field("model name")},
      {"hardware_threads", hw},
      {"online_cpus", std::thread::hardware_concurrency()},
      {"physical_cores", phys},
      {"smt", smt.empty() ? nlohmann::json(static_cast<int>(hw) > phys) : nlohmann::json(smt == "1")},
      {"caches", caches()},
      {"kernel", std::string(u.sysname) + " " + u.release},
      {"arch", u.machine},
      {"governor", governor()},
      {"compiler", std::string("g++ ") + __VERSION__},
      {"cxx_flags", CONPAT_CXX_FLAGS},
      {"build_type", CONPAT_BUILD_TYPE},
      {"optimised", optimised_build()},
      {"libraries",
       {{"boost", BOOST_LIB_VERSION},
        {"tbb", std::to_string(TBB_VERSION_MAJOR) + "." + std::to_string(TBB_VERSION_MINOR)},
        {"benchmark", CONPAT_BENCHMARK_VERSION},
        {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                              std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                              std::to_string(NLOHMANN_JSON_VERSION_PATCH)}}},
      {"git_commit", info.git_commit.empty() ? CONPAT_GIT_COMMIT : info.git_commit},
      {"git_dirty", info.git_dirty < 0 ? nlohmann::json(nullptr) : nlohmann::json(info.git_dirty == 1)},
      {"profile", info.profile},
      {"start_time", info.start_time},
      {"end_time", info.end_time},
      {"cache_line_bytes", conpat::kCacheLine},
      {"hardware_destructive_interference_size", conpat::kCacheLine},
      {"warnings", info.warnings},
      {"impl_notes", impl_notes()},
  };
}

void extend_results(nlohmann::json& doc, const RunInfo& info) {
  RunInfo final_info = info;
  unsigned hw = hardware_threads();
  int oversubscribed = 0;
  for (auto& b : doc["benchmarks"]) {
    std::string name = b.value("run_name", b.value("name", ""));
    std::vector<std::string> parts;
    std::stringstream ss(name);
    for (std::string p; std::getline(ss, p, '/');) parts.push_back(p);
    nlohmann::json params = nlohmann::json::object();
    std::string impl;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      auto colon = parts[i].find(':');
      if (colon == std::string::npos) continue;  // real_time, manual_time, ...
      std::string key = parts[i].substr(0, colon), value = parts[i].substr(colon + 1);
      if (key == "impl") {
        impl = value;
      } else if (!gbench_keys().count(key)) {
        params[key] = param_value(value);
      }
    }
    b["family"] = parts.empty() ? "" : parts[0];
    b["impl"] = impl;
    b["params"] = params;
    // What the workers of a channel or seed workload are: OS threads unless
    // the name says otherwise (runner:fiber, runner:tbb_task).
    const auto& family = b["family"].get_ref<const std::string&>();
    if (family.rfind("channel.", 0) == 0 || family.rfind("seed.", 0) == 0) {
      b["runner"] = params.contains("runner") ? params["runner"].get<std::string>() : std::string("thread");
    }
    bool over = b.contains("threads_used") && b["threads_used"].get<double>() > static_cast<double>(hw);
    b["oversubscribed"] = over;
    if (over) ++oversubscribed;
  }
  if (oversubscribed > 0) {
    final_info.warnings.push_back(std::to_string(oversubscribed) + " benchmark(s) run more threads than the " +
                                  std::to_string(hw) + " hardware threads (marked oversubscribed)");
  }
  doc["context"]["conpat"] = machine_context(final_info);
}

void write_new_file(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  fs::path tmp = target;
  tmp += ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  // link() refuses to replace an existing file, unlike rename().
  if (::link(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    fs::remove(tmp);
    throw std::runtime_error(target.string() + ": " + std::strerror(err));
  }
  fs::remove(tmp);
}

}  // namespace conpat::bench
