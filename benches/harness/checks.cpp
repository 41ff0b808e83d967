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
#include <stdexcept>
#include <string>
#include <thread>

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

}  // namespace

nlohmann::json run_checks() {
  return {{"exception_escaping_thread_ends_process", escaping_exception_ends_process()},
          {"errgroup_carries_exception", errgroup_carries_exception()},
          {"future_carries_exception", future_carries_exception()}};
}

}  // namespace conpat::bench
