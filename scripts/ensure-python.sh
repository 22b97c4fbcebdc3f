#!/usr/bin/env bash
# The Python example agent and client run on Debian's python3-msgpack and python3-websockets with
# /usr/bin/python3. The test command installs them when they are missing, so `pnpm test` works on a
# fresh machine; without root or apt it says what is missing and the Python tests report it.
set -u
py=/usr/bin/python3
if [ -x "$py" ] && "$py" -c 'import msgpack, websockets' 2>/dev/null; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing python3-msgpack python3-websockets (needed by examples/python)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q python3-msgpack python3-websockets >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q python3-msgpack python3-websockets >/dev/null; } ||
    echo "could not install python3-msgpack python3-websockets" >&2
else
  echo "python3-msgpack and python3-websockets are missing; install them: apt-get install -y python3-msgpack python3-websockets" >&2
fi
exit 0
