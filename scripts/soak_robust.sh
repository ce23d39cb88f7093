#!/usr/bin/env bash
# Robust-lock kill soak (not run by CI): the kill test of tests/test_robust_lock.cpp with 1000 runs
# (or RUNS), each SIGKILLing the holder of an ipc::robust_lock at a random moment; asserts that
# every run ends with the next acquirer told owner_died within 50 ms (or BOUND_MS), no hang and no
# lost update, and prints the median and the maximum detection latency. Builds Release in
# build/soak (that target only). ATOMKIT_SEED=<n> repeats a seed's schedule.
# Usage: scripts/soak_robust.sh [RUNS] [BOUND_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000}
bound=${2:-50}
bash scripts/deps.sh test
cmake -S . -B build/soak -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/soak -t test_robust_lock
ATOMKIT_ROBUST_KILL_RUNS=$runs ATOMKIT_ROBUST_KILL_BOUND_MS=$bound \
  build/soak/tests/test_robust_lock --test-case='*kill test*'
