#!/usr/bin/env bash
# Builds the native module into target/napi, then moves it into place with a rename: a
# process that has the old module loaded keeps its (unlinked) copy instead of seeing the
# file rewritten under it.
#
#   bash scripts/build-native.sh [target triple]    (default: this machine's)
#
# A Linux gnu module built on a Linux x64 host is linked against glibc 2.17 with napi-rs's
# cross toolchain (scripts/glibc-toolchain.sh): it loads wherever Node 22 does. release.yml
# builds the published Linux gnu packages with this script too.
#
# A Linux musl module (x86_64-unknown-linux-musl, aarch64-unknown-linux-musl; `npm run
# build:musl`) is built with zig and cargo-zigbuild from PyPI (scripts/musl-toolchain.sh), as
# release.yml builds the published musl packages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-toolchain.sh
triple="${1:-$(rustc -vV | sed -n 's/^host: //p')}"
napi_cross_compile=
case "$triple" in
  *-unknown-linux-gnu) source scripts/glibc-toolchain.sh "$triple" ;;
  *-unknown-linux-musl) source scripts/musl-toolchain.sh "$triple" ;;
esac
npx napi build --platform --release --no-js --target "$triple" $napi_cross_compile --output-dir target/napi --dts index.d.ts
mv -f target/napi/flue-libsql.*.node .
mv -f target/napi/index.d.ts index.d.ts
