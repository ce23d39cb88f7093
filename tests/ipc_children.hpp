// Child processes for the ipc tests: fork a function, reap it with a bounded wait (a child that
// hangs is killed and reported, so a hang fails the test instead of hanging CI), unique names.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <thread>

namespace ipc_test {

// Runs fn() (returning 0 for success) in a forked child, which exits with its result (3 if it
// threw). The parent gets the pid (or -1). Children never return into the test framework.
template <class F>
pid_t spawn(F&& fn) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 3;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
    } catch (...) {
    }
    ::_exit(rc);
  }
  return pid;
}

inline constexpr int timed_out = -1;

// Waits for the child up to `limit`, then kills it. Returns its exit code, 128 + the signal that
// ended it, or timed_out (killed here).
inline int reap(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  if (pid <= 0) return -2;
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  bool expired = false;
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    int r = 0;
    do {
      r = ::poll(&p, 1, static_cast<int>(limit.count()));
    } while (r < 0 && errno == EINTR);
    ::close(fd);
    expired = r == 0;
  } else {  // no pidfd_open: poll the child's state (bounded)
    const auto end = std::chrono::steady_clock::now() + limit;
    int st = 0;
    while (::waitpid(pid, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) {
        expired = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!expired) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  if (expired) ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (expired) return timed_out;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Waits (bounded) until the child is asleep in the kernel (state S in /proc/<pid>/stat): for
// tests that must kill a child while it blocks. true if it was seen asleep.
inline bool await_asleep(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    const auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'S') {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

// A shm name unique to this process and call: "/atomkit_test_<pid>_<n>".
inline std::string unique_name() {
  static std::atomic<int> n{0};
  return "/atomkit_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
}

}  // namespace ipc_test
