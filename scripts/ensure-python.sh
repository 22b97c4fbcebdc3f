#!/usr/bin/env bash
# The Python example agent and client run on Debian's python3-msgpack and python3-websockets with
# /usr/bin/python3; the Python SDK package (python/) also needs python3-venv and python3-setuptools
# to install offline into a virtualenv. The test command installs them when they are missing, so
# `pnpm test` works on a fresh machine; without root or apt it says what is missing and the Python
# tests report it.
set -u
py=/usr/bin/python3
pkgs="python3-msgpack python3-websockets python3-venv python3-setuptools"
if [ -x "$py" ] && "$py" -c 'import msgpack, websockets, ensurepip, setuptools' 2>/dev/null; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing $pkgs (needed by examples/python and python/)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get install -y -q $pkgs >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $pkgs >/dev/null; } ||
    echo "could not install $pkgs" >&2
else
  echo "some of $pkgs are missing; install them: apt-get install -y $pkgs" >&2
fi
exit 0
