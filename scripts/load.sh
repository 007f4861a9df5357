#!/usr/bin/env bash
# On-demand load run, not part of `cargo test`: N agents (default 500) run turns for S seconds
# (default 60) against `turnscope emulate` through a recording `turnscope proxy`, first directly
# and then through the proxy; every frame is checked end to end. Prints frames relayed, lost,
# p50/p99 turn latency direct vs proxied, the proxy's peak RSS.
#   LOAD_AGENTS=500 LOAD_SECS=60 LOAD_THINK_MS=0 scripts/load.sh      (LOAD_DEBUG=1: debug binary)
set -euo pipefail
cd "$(dirname "$0")/.."
# Each agent holds ~4 descriptors across the three processes (agent, proxy both legs, emulator).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open-file limit: $(ulimit -n)"
if [ -z "${LOAD_DEBUG:-}" ]; then
  cargo build --release --bin turnscope
  export TURNSCOPE_BIN="$PWD/target/release/turnscope"
fi
LOAD_AGENTS="${LOAD_AGENTS:-500}" LOAD_SECS="${LOAD_SECS:-60}" \
  cargo test --test load -- --ignored --nocapture load_500_agents
