// Compiles against the installed or embedded library: every public header, through atomkit.hpp,
// and links the library.
#include <atomkit/atomkit.hpp>

#include <mutex>

int main() {
  // The lock-order checker lives in the compiled library: this proves that it links.
  atomkit::lock_order::enable();
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  {
    const std::lock_guard first(s);
    const std::lock_guard second(t);
  }
  atomkit::lock_order::disable();
  return atomkit::lock_order::inversions() == 0 ? 0 : 1;
}
