// Compiled with -fno-exceptions: the whole library must build without exceptions.
#include <atomkit/atomkit.hpp>

#include <mutex>

int main() {
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  {
    std::scoped_lock guard(s, t);
  }
  return s.try_lock() && t.try_lock() ? (s.unlock(), t.unlock(), 0) : 1;
}
