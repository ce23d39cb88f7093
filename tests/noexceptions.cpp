// Compiled with -fno-exceptions: the whole library must build without exceptions.
#include <atomkit/atomkit.hpp>

#include <mutex>

int main() {
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  atomkit::reentrant_lock r;
  atomkit::seqlock<int> q(1);
  {
    std::scoped_lock guard(s, t, r);
    q.store(q.load() + 1);
  }
  return s.try_lock() && t.try_lock() ? (s.unlock(), t.unlock(), 0) : 1;
}
