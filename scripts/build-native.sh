#!/usr/bin/env bash
# Builds the native module into target/napi, then moves it into place with a rename: a
# process that has the old module loaded keeps its (unlinked) copy instead of seeing the
# file rewritten under it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-toolchain.sh
npx napi build --platform --release --no-js --output-dir target/napi --dts index.d.ts
mv -f target/napi/flue-libsql.*.node .
mv -f target/napi/index.d.ts index.d.ts
