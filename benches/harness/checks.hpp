// benches/harness/checks.hpp — behaviour checks recorded in the results file
// (context.conpat.checks): the seed's correctness claims, judged from an
// outcome measured on the machine rather than a fixed string.
#pragma once

#include <nlohmann/json.hpp>

namespace conpat::bench {

// {"<check>": {"outcome": bool, "detail": "..."}, ...}. Forks a child process
// for the check that must end a process; call before any benchmark thread starts.
nlohmann::json run_checks();

}  // namespace conpat::bench
