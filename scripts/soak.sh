#!/usr/bin/env bash
# Soak test (not run by CI): the queue history checker (tests/test_queue_history.cpp) over 10^8
# items by default, in rounds that cycle through mpmc_queue<park|busy> and spsc_queue<park|busy> at
# capacities 1, 2, 7, 64 with 1 to 16 threads. Builds Release in build/soak (that target only),
# prints progress every 10 s and, on failure, the round and how to replay its configuration.
# Usage: scripts/soak.sh [ITEMS]        ATOMKIT_SEED=<n> repeats a seed's schedule.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-100000000}
bash scripts/deps.sh test
cmake -S . -B build/soak -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/soak -t test_queue_history
echo "soak: $items items, no time box"
start=$SECONDS
ATOMKIT_HISTORY_ITEMS=$items ATOMKIT_HISTORY_SECONDS=0 \
  build/soak/tests/test_queue_history --test-case='queue histories*'
echo "soak: passed in $((SECONDS - start)) s"
