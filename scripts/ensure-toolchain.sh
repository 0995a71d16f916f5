#!/usr/bin/env bash
# Checks (and on a fresh Debian/Ubuntu machine, installs) what building the native module
# needs: Rust (cargo) and cmake (libsql's encryption build compiles SQLite3MultipleCiphers
# with it). Users installing the prebuilt package never run this.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "flue-libsql: building from source needs Rust: install it with rustup (https://rustup.rs), then retry." >&2
  exit 1
fi

if ! command -v cmake >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "flue-libsql: installing cmake (needed to build libsql's encryption support)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null
  else
    echo "flue-libsql: building from source needs cmake (e.g. 'sudo apt-get install cmake' or 'brew install cmake')." >&2
    exit 1
  fi
fi
