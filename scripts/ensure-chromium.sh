#!/usr/bin/env bash
# The browser tests (sdk/test/browser.test.ts, broker/test/dashboard.test.ts) drive Debian's
# Chromium (/usr/bin/chromium) through playwright-core, which downloads no browser of its own. The test command installs Chromium when it is missing, so
# `pnpm test` works on a fresh machine; without root or apt it says what is missing and the browser
# test reports that it skipped.
set -u
bin=/usr/bin/chromium
if [ -x "$bin" ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing chromium (needed by the browser tests: sdk/test/browser.test.ts, broker/test/dashboard.test.ts)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends chromium >/dev/null; } ||
    echo "could not install chromium" >&2
else
  echo "chromium is missing; install it: apt-get install -y chromium" >&2
fi
exit 0
