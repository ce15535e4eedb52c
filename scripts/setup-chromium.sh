#!/usr/bin/env bash
# Debian's Chromium for the browser tests (`npm run test:browser`), installed when missing. Where it cannot
# be installed (no apt-get, not root), says so; the browser suite then skips with the same message.
set -euo pipefail
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
  echo "Chromium is installed at $chromium"
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends chromium ||
    { apt-get update && apt-get install -y --no-install-recommends chromium; }
  echo "Chromium installed at /usr/bin/chromium"
else
  echo "Chromium cannot be installed here (needs apt-get as root): the browser tests will be skipped." >&2
fi
