# Sourced (not run) with a Linux musl target triple (x86_64- or aarch64-unknown-linux-musl):
# exports what makes `napi build --cross-compile` (cargo-zigbuild) compile and link the native
# module for that target, and sets `napi_cross_compile=--cross-compile` for build-native.sh.
#
# The C compiler and linker are zig's (`zig cc`, which ships musl's headers and link stubs), with
# cargo-zigbuild to wire it into cargo; both come from PyPI (`ziglang`, `cargo-zigbuild`) at
# pinned versions, in a virtualenv under node_modules/.cache/flue-libsql-musl/. napi adds
# `-C target-feature=-crt-static` for musl targets: the module is a shared object linked
# dynamically against the musl libc of the Node that loads it (Alpine's `libc.musl-*.so.1`),
# with zig's libunwind built in (no libgcc_s needed).
#
# The Rust standard library for the target: rustup's when it is installed (release.yml:
# `dtolnay/rust-toolchain` with the target); otherwise (this machine: no rustup downloads)
# built from source with Debian's compiler, `rustc-web`, and its sources, `rust-web-src`
# (cargo's `-Z build-std`, allowed on a stable compiler by RUSTC_BOOTSTRAP=1).
#
#   source scripts/musl-toolchain.sh x86_64-unknown-linux-musl

musl_toolchain() {
  local triple="$1" root cache
  case "$triple" in
    x86_64-unknown-linux-musl | aarch64-unknown-linux-musl) ;;
    *) echo "musl-toolchain: no toolchain for $triple" >&2; return 1 ;;
  esac
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cache="$root/node_modules/.cache/flue-libsql-musl"
  local tools="ziglang==0.17.1 cargo-zigbuild==0.24.1"
  if [ "$(cat "$cache/venv/installed" 2>/dev/null)" != "$tools" ]; then
    echo "musl-toolchain: installing $tools from PyPI"
    rm -rf "$cache/venv" "$cache/bin"
    python3 -m venv "$cache/venv" || return 1
    # shellcheck disable=SC2086
    "$cache/venv/bin/pip" install --quiet --disable-pip-version-check $tools || return 1
    echo "$tools" > "$cache/venv/installed"
  fi
  mkdir -p "$cache/bin"
  ln -sf "$("$cache/venv/bin/python" -c 'import os, ziglang; print(os.path.dirname(ziglang.__file__))')/zig" "$cache/bin/zig"
  ln -sf "$cache/venv/bin/cargo-zigbuild" "$cache/bin/cargo-zigbuild"
  export PATH="$cache/bin:$PATH"

  local sysroot
  sysroot="$(rustc --print sysroot 2>/dev/null || true)"
  if [ -n "$sysroot" ] && [ -d "$sysroot/lib/rustlib/$triple/lib" ]; then
    : # rustup's standard library for the target
  else
    if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
      if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "musl-toolchain: no Rust standard library for $triple: 'rustup target add $triple', or on Debian 'apt-get install rustc-web cargo-web rust-web-src'" >&2
        return 1
      fi
      echo "musl-toolchain: installing rustc-web cargo-web rust-web-src"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src >/dev/null || return 1
    fi
    # Debian's compiler first on PATH (a folder of links, not /usr/bin: that would bring its
    # node and npm too); rustup's rustc has no sources to build std from.
    mkdir -p "$cache/rust-bin"
    ln -sf /usr/bin/rustc "$cache/rust-bin/rustc"
    ln -sf /usr/bin/cargo "$cache/rust-bin/cargo"
    export PATH="$cache/rust-bin:$PATH" RUSTC=/usr/bin/rustc
    export RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  fi
  # A target folder of its own (libsql's CMake cache is per compiler), one per target so that
  # both can build at once.
  case "$triple" in
    x86_64-*) export CARGO_TARGET_DIR="$root/target/musl" ;;
    aarch64-*) export CARGO_TARGET_DIR="$root/target/musl-aarch64" ;;
  esac
  napi_cross_compile=--cross-compile
}

musl_toolchain "$1"
