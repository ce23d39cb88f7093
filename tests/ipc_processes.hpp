// Helpers for atomkit's multi-process tests: objects in a MAP_SHARED|MAP_ANONYMOUS mapping kept
// across fork(), child processes that report by exit status, and a bounded reaper that kills
// children still running at its deadline, so a hang fails the test instead of hanging CI.
#pragma once

#include "stress.hpp"

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ipctest {

// Ends a child process with a message and a non-zero status if cond is false.
#define IPC_CHILD_CHECK(cond)                                                                   \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "child %d: check failed at %s:%d: %s\n", static_cast<int>(::getpid()), \
                   __FILE__, __LINE__, #cond);                                                  \
      std::fflush(stderr);                                                                      \
      ::_exit(10);                                                                              \
    }                                                                                           \
  } while (0)

// One T in its own anonymous shared mapping, constructed in place before any fork().
template <class T>
class shared_object {
 public:
  template <class... Args>
  explicit shared_object(Args&&... args) {
    mem_ = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem_ == MAP_FAILED) {
      std::perror("mmap");
      std::abort();
    }
    obj_ = new (mem_) T(std::forward<Args>(args)...);
  }
  ~shared_object() {
    obj_->~T();
    ::munmap(mem_, sizeof(T));
  }
  shared_object(const shared_object&) = delete;
  shared_object& operator=(const shared_object&) = delete;
  shared_object(shared_object&&) = delete;
  shared_object& operator=(shared_object&&) = delete;

  T& operator*() const noexcept { return *obj_; }
  T* operator->() const noexcept { return obj_; }

 private:
  void* mem_ = nullptr;
  T* obj_ = nullptr;
};

// The kernel's state letter of a process ('S' while it sleeps, e.g. in futex_wait; 'R' while it
// runs), or '?' once it is gone.
inline char process_state(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

// Yields until process `pid` is asleep in the kernel or the time box expires.
inline bool wait_until_asleep(pid_t pid, const stress::time_box& box) {
  while (!box.expired()) {
    if (process_state(pid) == 'S') return true;
    std::this_thread::yield();
  }
  return false;
}

// Yields until pred() holds or the time box expires; returns pred().
template <class Pred>
bool spin_until(Pred&& pred, const stress::time_box& box) {
  while (!pred()) {
    if (box.expired()) return pred();
    std::this_thread::yield();
  }
  return true;
}

// Child processes of one test. Each runs f() and exits with its result (0: success). The
// destructor kills and reaps any child still running.
class processes {
 public:
  processes() = default;
  processes(const processes&) = delete;
  processes& operator=(const processes&) = delete;
  processes(processes&&) = delete;
  processes& operator=(processes&&) = delete;
  ~processes() {
    for (const child& c : children_) {
      if (!c.reaped) {
        ::kill(c.pid, SIGKILL);
        int status = 0;
        ::waitpid(c.pid, &status, 0);
      }
    }
  }

  template <class F>
  pid_t spawn(F&& f) {
    static_cast<void>(stress::seed());  // chosen (and printed) once, before the children copy it
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      std::abort();
    }
    if (pid == 0) {
      int rc = 97;
      try {
        rc = f();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: exception: %s\n", static_cast<int>(::getpid()), e.what());
        rc = 98;
      } catch (...) {
        rc = 99;
      }
      std::fflush(nullptr);
      ::_exit(rc);
    }
    children_.push_back({pid, false, false});
    return pid;
  }

  // SIGKILLs one child and reaps it.
  void kill(pid_t pid) {
    for (child& c : children_) {
      if (c.pid == pid && !c.reaped) {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        c.reaped = true;
        c.killed = true;
      }
    }
  }

  // Reaps every child, waiting at most `limit` in all; children still running then are killed
  // and reported. True if every child not killed by kill() exited with status 0.
  bool reap_all(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const stress::time_box box(limit);
    bool ok = true;
    for (;;) {
      bool pending = false;
      for (child& c : children_) {
        if (c.reaped) continue;
        int status = 0;
        const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
        if (r == c.pid) {
          c.reaped = true;
          if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "child %d failed: %s %d\n", static_cast<int>(c.pid),
                         WIFEXITED(status) ? "exit status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            ok = false;
          }
        } else {
          pending = true;
        }
      }
      if (!pending) return ok;
      if (box.expired()) {
        for (child& c : children_) {
          if (c.reaped) continue;
          std::fprintf(stderr, "child %d still running at the deadline (state %c): killed\n",
                       static_cast<int>(c.pid), process_state(c.pid));
          ::kill(c.pid, SIGKILL);
          int status = 0;
          ::waitpid(c.pid, &status, 0);
          c.reaped = true;
        }
        return false;
      }
      // The reaper's polling interval (a bound on how late it notices an exit), not
      // synchronization: the children's results come from their exit status.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  struct child {
    pid_t pid;
    bool reaped;
    bool killed;  // by kill(): its status is not a result
  };
  std::vector<child> children_;
};

}  // namespace ipctest
