#!/usr/bin/env bash
# Every test: unit and stress tests (g++ and clang; g++ again with the sleep paths forced), the
# Relacy model checks with their controls, the TSan suite with its negative controls,
# ASan/UBSan, clang-tidy, and the install/add_subdirectory consumers. Installs what it needs.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test || exit 1
passed=0
failed=0
failures=()
stage() {  # stage NAME COMMAND...: runs one stage, counts it, keeps going
  local name=$1
  shift
  echo
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: passed ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}
build_and_ctest() {  # DIR CMAKE-ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null && cmake --build "$dir" &&
    (cd "$dir" && ctest --output-on-failure --timeout 900 -E '^model_')
}
consumers() {
  local prefix=$PWD/build/prefix
  rm -rf "$prefix" build/consumer-installed build/consumer-embedded build/notests
  cmake -S . -B build/notests -G Ninja -DBUILD_TESTING=OFF >/dev/null &&
    cmake --build build/notests && cmake --install build/notests --prefix "$prefix" >/dev/null &&
    test ! -e build/notests/tests &&
    cmake -S tests/consumer -B build/consumer-installed -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" >/dev/null &&
    cmake --build build/consumer-installed && build/consumer-installed/consumer &&
    cmake -S tests/consumer -B build/consumer-embedded -G Ninja -DATOMKIT_SOURCE_DIR="$PWD" \
      -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" >/dev/null &&
    cmake --build build/consumer-embedded && build/consumer-embedded/consumer &&
    test ! -e build/consumer-embedded/atomkit/tests
}
tidy() {
  cmake -S . -B build/tidy -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null &&
    run-clang-tidy -quiet -j "$(nproc)" -p build/tidy "$PWD/(src|tests|examples)/.*\.cpp$" \
      >build/tidy.log 2>&1
  local rc=$?
  grep -E "(warning|error):" build/tidy.log | grep -v "warnings generated" | sort -u | head -50
  return $rc
}

model_checks() {  # the Relacy targets are built by the g++ release stage
  (cd build/release && ctest --output-on-failure --timeout 900 -j 2 -R '^model_')
}

stage "unit and stress tests (g++, release; again with every wait forced to sleep)" \
  build_and_ctest build/release -DCMAKE_BUILD_TYPE=Release -DATOMKIT_TEST_VARIANTS=sleep \
  -DATOMKIT_MODEL_CHECKS=ON
stage "model checks (Relacy: random and context-bounded schedulers, bug-injection controls)" \
  model_checks
stage "unit and stress tests (clang++, release)" build_and_ctest build/clang \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++
stage "TSan suite (stress tests under -fsanitize=thread, negative controls)" \
  build_and_ctest build/tsan -DCMAKE_BUILD_TYPE=Debug -DATOMKIT_SANITIZE=thread
stage "ASan/UBSan" build_and_ctest build/asan -DCMAKE_BUILD_TYPE=Debug -DATOMKIT_SANITIZE=address
stage "install, find_package and add_subdirectory consumers" consumers
stage "clang-tidy" tidy

echo
for f in "${failures[@]}"; do echo "failed stage: $f"; done
echo "test stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
