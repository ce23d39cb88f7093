#!/usr/bin/env bash
# The main job: build, run the benchmark sweep, write the throughput curves and tables to results/.
# Extra arguments go to bench/plot.py (e.g. --filter '^lock/' --repetitions 5, or --filter '^pool/'
# for the thread pool and futures: throughput, idle latency, allocations per task, as_completed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh bench
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DATOMKIT_BUILD_TESTS=OFF \
  -DATOMKIT_BUILD_BENCH=ON
cmake --build build/bench
/usr/bin/python3 bench/plot.py --bench build/bench/bench/atomkit_bench --out results "$@"
# The lock-order checker compiled out (-DATOMKIT_LOCK_ORDER=0) is a binary of its own: its
# baseline, to set beside results/summary.txt's lock_order rows.
build/bench/bench/atomkit_bench_lock_order_off --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true | tee results/lock_order_compiled_out.txt
