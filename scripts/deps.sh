#!/usr/bin/env bash
# Installs, from Debian, what atomkit's tests ("test") or benchmarks ("bench") need, when missing.
set -euo pipefail
want=(cmake ninja-build g++ clang clang-tidy doctest-dev relacy-dev)
if [ "${1:-test}" = bench ]; then
  want+=(libbenchmark-dev libconcurrentqueue-dev libatomic-queue-dev libboost-dev libtbb-dev
         libck-dev libabsl-dev libcds-dev libthread-pool-dev python3 python3-matplotlib)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
