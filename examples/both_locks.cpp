// Python (the guide's deadlock, and its cure by one consistent order):
//     a, b = threading.Lock(), threading.Lock()
//     def worker1():
//         with a:
//             with b: ...                  # A then B
//     def worker2():
//         with b:
//             with a: ...                  # B then A: the two can deadlock
//     # the guide's fix: with ordered_lock(a, b): ...   (sorts the locks by id())
//
// multi_lock takes both locks without deadlock whatever order each thread names them in, and
// needs no global order at all (nothing to sort, so it also works for locks that live in shared
// memory at different addresses in different processes). The program runs the guide's two
// workers, one naming the locks A, B and the other B, A, and checks that every update was made
// under both locks.
#include <atomkit/lock_all.hpp>
#include <atomkit/spinlock.hpp>

#include <cstdio>
#include <thread>

int main() {
  constexpr long rounds = 50'000;
  atomkit::spinlock lock_a;
  atomkit::spinlock lock_b;
  long a_count = 0;  // guarded by lock_a
  long b_count = 0;  // guarded by lock_b

  std::thread worker1([&] {
    for (long i = 0; i < rounds; ++i) {
      const atomkit::multi_lock hold(lock_a, lock_b);  // A, B
      ++a_count;
      ++b_count;
    }
  });
  std::thread worker2([&] {
    for (long i = 0; i < rounds; ++i) {
      const atomkit::multi_lock hold(lock_b, lock_a);  // B, A: no deadlock
      a_count += 2;
      b_count += 2;
    }
  });
  worker1.join();
  worker2.join();

  std::printf("a = %ld, b = %ld\n", a_count, b_count);
  if (a_count != 3 * rounds || b_count != 3 * rounds) {
    std::fprintf(stderr, "FAIL: expected %ld each\n", 3 * rounds);
    return 1;
  }
  if (lock_a.is_locked() || lock_b.is_locked()) {
    std::fprintf(stderr, "FAIL: a lock was left held\n");
    return 1;
  }
  return 0;
}
