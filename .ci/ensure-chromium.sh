#!/bin/sh
# Makes sure Debian's chromium is at /usr/bin/chromium (the trace page's browser test drives
# it with playwright-core). If it is missing and we are root with apt-get, installs the
# distribution's package (without its recommends: the fonts it needs come with fontconfig);
# otherwise says how to install it and exits 1. Quiet on success.
set -eu

BIN=/usr/bin/chromium

found() {
  [ -f "$BIN" ] && [ -x "$BIN" ]
}

if found; then exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # Test files that use the browser run in parallel: the first installs while the others wait on
  # this lock (a second apt-get would fail on dpkg's), then find it installed.
  exec 9>/tmp/aos-ensure-chromium.lock
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if found; then exit 0; fi
  echo "ensure-chromium: $BIN not found; installing Debian's chromium with apt-get (once; this takes a while)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # apt waits for a lock another apt holds (a machine that has just booted may be updating).
  if apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium >/dev/null; then
    if found; then exit 0; fi
  fi
  echo "ensure-chromium: apt-get could not install chromium" >&2
  exit 1
fi

cat >&2 <<MSG
ensure-chromium: $BIN was not found, and this user cannot install it.
The trace page's browser test needs Debian's chromium package. Install it, then run the tests again:
  Debian/Ubuntu:  sudo apt-get install -y chromium
MSG
exit 1
