// benches/harness/checks.cpp — correctness checks whose outcome a results
// file records, so a claim about behaviour (not speed) is judged from
// something that ran on the machine and could have come out otherwise.
#include "checks.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <latch>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conpat/err_group.hpp"

namespace conpat::bench {
namespace {

nlohmann::json outcome(bool ok, std::string detail) { return {{"outcome", ok}, {"detail", std::move(detail)}}; }

// Go: a panic in another goroutine is not caught by the caller's recover
// and ends the program. C++: an exception escaping a std::thread calls
// std::terminate. Run it in a child process and see how the child ended.
nlohmann::json escaping_exception_ends_process() {
  pid_t pid = fork();
  if (pid < 0) return outcome(false, "fork failed; not checked");
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);  // std::terminate's message is expected
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    try {
      std::thread t([] { throw std::runtime_error("escaped"); });
      t.join();
    } catch (...) {
      _exit(3);  // caught on the parent thread: would contradict the claim
    }
    _exit(0);  // survived: would contradict the claim
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return outcome(false, "waitpid failed; not checked");
  if (WIFSIGNALED(status)) {
    bool abort = WTERMSIG(status) == SIGABRT;
    return outcome(abort, std::string("child process ended by signal ") + std::to_string(WTERMSIG(status)) +
                              (abort ? " (SIGABRT from std::terminate)" : ""));
  }
  return outcome(false, "child process exited with code " + std::to_string(WEXITSTATUS(status)) +
                            (WEXITSTATUS(status) == 3 ? " (the exception was caught on the joining thread)" : ""));
}

nlohmann::json errgroup_carries_exception() {
  ErrGroup g;
  g.go([] { throw std::runtime_error("from task"); });
  try {
    g.wait();
  } catch (const std::runtime_error& e) {
    return outcome(std::string(e.what()) == "from task", "ErrGroup::wait rethrew: " + std::string(e.what()));
  } catch (...) {
    return outcome(false, "ErrGroup::wait threw another type");
  }
  return outcome(false, "ErrGroup::wait returned normally");
}

nlohmann::json future_carries_exception() {
  auto f = std::async(std::launch::async, []() -> int { throw std::runtime_error("from async"); });
  try {
    f.get();
  } catch (const std::runtime_error& e) {
    return outcome(std::string(e.what()) == "from async", "future::get rethrew: " + std::string(e.what()));
  }
  return outcome(false, "future::get returned normally");
}

// The seed's loop-variable trap (section 4.1) in C++: three threads started
// in `for (i = 0; i < 3; ++i)` read i after the loop has ended (a latch
// orders their reads after its last write, so this is race-free). Captured
// by reference, i is one variable for the whole loop, as in Go before 1.22:
// all read 3. Captured by value (the fix), each reads its own iteration's.
nlohmann::json loop_capture(bool by_reference) {
  int got[3] = {-1, -1, -1};
  std::latch gate(1);
  std::vector<std::thread> ts;
  int i = 0;  // declared outside the loop so that it outlives the threads' reads
  for (i = 0; i < 3; ++i) {
    const int k = i;
    if (by_reference) {
      ts.emplace_back([&i, &got, &gate, k] { gate.wait(), got[k] = i; });
    } else {
      ts.emplace_back([i, &got, &gate, k] { gate.wait(), got[k] = i; });
    }
  }
  gate.count_down();
  for (auto& t : ts) t.join();
  std::ostringstream seen;
  seen << "captured by " << (by_reference ? "reference" : "value") << ", the threads read i = [" << got[0] << " "
       << got[1] << " " << got[2] << "]";
  const bool expected = by_reference ? (got[0] == 3 && got[1] == 3 && got[2] == 3)
                                     : (got[0] == 0 && got[1] == 1 && got[2] == 2);
  return outcome(expected, seen.str());
}

}  // namespace

nlohmann::json run_checks() {
  return {{"exception_escaping_thread_ends_process", escaping_exception_ends_process()},
          {"errgroup_carries_exception", errgroup_carries_exception()},
          {"future_carries_exception", future_carries_exception()},
          {"loop_capture_by_reference_shares", loop_capture(true)},
          {"loop_capture_by_value_copies", loop_capture(false)}};
}

}  // namespace conpat::bench
