// Compiles against the installed or embedded library: every public header, through atomkit.hpp.
#include <atomkit/atomkit.hpp>

#include <mutex>

int main() {
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  std::scoped_lock both(s, t);
  return 0;
}
