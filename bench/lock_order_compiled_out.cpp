// The lock-order family's baseline: the nested-pair loop of bench_lock_order.cpp over
// atomkit::spinlock built with -DATOMKIT_LOCK_ORDER=0 (no hook at all). A binary of its own:
// a program must build atomkit's inline lock functions one way only.
#include <atomkit/spinlock.hpp>

#include "harness.hpp"
#include "lock_order_loop.hpp"

#if ATOMKIT_LOCK_ORDER
#error "build this file with -DATOMKIT_LOCK_ORDER=0"
#endif

namespace {

using namespace atomkit_bench;

[[maybe_unused]] const bool registered = [] {
  add("lock_order", "nested_pair", "atomkit::spinlock compiled out", {1},
      [](benchmark::State& s, int) {
        atomkit::spinlock a;
        atomkit::spinlock b;
        nested_pair(s, a, b, [](atomkit::spinlock& l) { l.lock(); },
                    [](atomkit::spinlock& l) { l.unlock(); });
      });
  return true;
}();

}  // namespace
