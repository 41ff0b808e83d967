// benches/harness/metadata.hpp — what a results file records about the run:
// the machine, the build, the libraries, and the conditions that make a
// measurement less trustworthy (unoptimised build, governor, oversubscription).
#pragma once

#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

namespace conpat::bench {

struct RunInfo {
  std::string machine;      // label; defaults to the hostname
  std::string profile;      // quick | default | full
  std::string git_commit;   // defaults to the commit CMake saw
  int git_dirty = -1;       // -1: unknown
  std::string start_time, end_time;  // ISO 8601 UTC
  std::vector<std::string> warnings;
};

std::string utc_now_iso();

// Physical cores on the machine (from /proc/cpuinfo; hardware_threads() when it says nothing).
int physical_cores();

// impl -> what it cannot honour of the workloads' semantics (written into
// context.conpat.impl_notes); families add to it when they register.
std::map<std::string, std::string>& impl_notes();

// Prints (to stderr) and records warnings about the build and the machine.
void warn_about_conditions(RunInfo& info);

// Machine, build and library facts as the context.conpat object.
nlohmann::json machine_context(const RunInfo& info);

// Adds context.conpat and, on every benchmark, family / impl / params
// (parsed from run_name) and `oversubscribed` (threads_used > hardware threads).
void extend_results(nlohmann::json& doc, const RunInfo& info);

// Writes `text` to `path` through a temporary file and a rename that never
// replaces an existing file. Throws std::runtime_error on failure.
void write_new_file(const std::string& path, const std::string& text);

}  // namespace conpat::bench
