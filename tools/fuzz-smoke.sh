#!/usr/bin/env bash
# CI smoke run of the fuzz targets (FUZZING.md): each target for a few seconds, about
# ${FUZZ_SMOKE_SECONDS:-20} s of fuzzing in all, on corpora seeded from conformance/vectors and
# examples/translate. Fails when a target finds a crash (the input is left in fuzz/artifacts/).
# Skips, with the reason and exit code 0, when cargo-fuzz or the fuzz crate's dependencies cannot
# be installed (offline). cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets stable accept them.
set -uo pipefail
cd "$(dirname "$0")/.."

total=${FUZZ_SMOKE_SECONDS:-20}
targets=(validate query mapping translate_csv translate_xlsx translate_xlsx_sheet translate_xml translate_json peer_request)
per=$(( total / ${#targets[@]} ))
[ "$per" -lt 1 ] && per=1
export RUSTC_BOOTSTRAP=1
flags=(-O -a -s none)   # release with debug assertions (overflow checks), no sanitizer: safe Rust

skip() { echo "fuzz-smoke: SKIPPED: $*"; exit 0; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: cargo-fuzz not found; installing it (cargo install cargo-fuzz)"
  log=$(mktemp)
  if ! cargo install cargo-fuzz --locked >"$log" 2>&1; then
    tail -n 5 "$log"
    skip "cargo-fuzz could not be installed (offline, or crates.io unreachable)"
  fi
fi
if ! cargo fetch --manifest-path fuzz/Cargo.toml >/dev/null 2>&1; then
  skip "the fuzz crate's dependencies (libfuzzer-sys) could not be fetched (offline?)"
fi
if command -v python3 >/dev/null 2>&1; then
  python3 tools/fuzz_seed.py || echo "fuzz-smoke: seeding failed; fuzzing from empty corpora"
else
  echo "fuzz-smoke: python3 not found; fuzzing from empty corpora"
fi
# a build failure is a real failure (the targets no longer compile against the crates)
cargo fuzz build "${flags[@]}" || { echo "fuzz-smoke: FAILED: the fuzz targets do not build"; exit 1; }

failed=()
for t in "${targets[@]}"; do
  echo "fuzz-smoke: $t for ${per}s"
  cargo fuzz run "${flags[@]}" "$t" -- -max_total_time="$per" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^stat::number_of_executed_units|DONE|panicked|SUMMARY|Test unit written|ERROR"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-smoke: FAILED: crash or error in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzz-smoke: ok (${#targets[@]} targets, ${per}s each)"
