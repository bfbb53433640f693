#!/usr/bin/env bash
# `make fuzz`: runs every cargo-fuzz target under fuzz/ for FUZZ_SECONDS each (default 60),
# or only those named in FUZZ_TARGETS. Installs the pinned cargo-fuzz if it is missing.
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets
# the stable toolchain accept them. Targets build with debug assertions and overflow checks,
# like the debug build the tests run. Each run starts from the seeds in fuzz/corpus/TARGET;
# what it learns goes to fuzz/work/TARGET (ignored by git), a crash to fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1

if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

read -r -a targets <<< "${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"
cargo fuzz build --debug-assertions

failed=()
for target in "${targets[@]}"; do
  echo "fuzz.sh: $target for ${seconds}s" >&2
  mkdir -p "fuzz/work/$target"
  if ! cargo fuzz run --debug-assertions "$target" "fuzz/work/$target" "fuzz/corpus/$target" \
      -- -max_total_time="$seconds" -print_final_stats=1; then
    failed+=("$target")
  fi
done

if (( ${#failed[@]} )); then
  echo "fuzz.sh: failed: ${failed[*]}; reproduce with" >&2
  echo "  RUSTC_BOOTSTRAP=1 cargo fuzz run --debug-assertions TARGET fuzz/artifacts/TARGET/FILE" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no crash" >&2
