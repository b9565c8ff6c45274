#!/bin/sh
# Makes sure a nats-server binary is available (the runtime's embedded server and the test
# suite need one). Looks where the runtime looks: NATS_SERVER_BIN, PATH, /usr/sbin,
# /usr/local/bin. If none is found and we are root on Debian/Ubuntu, installs the
# distribution's package; otherwise says how to install it and exits 1. Quiet on success.
set -eu

found() {
  [ -n "$1" ] && [ -f "$1" ] && [ -x "$1" ]
}

if [ -n "${NATS_SERVER_BIN:-}" ]; then
  if found "$NATS_SERVER_BIN"; then exit 0; fi
  echo "ensure-nats-server: NATS_SERVER_BIN=$NATS_SERVER_BIN is not an executable file" >&2
  exit 1
fi

if command -v nats-server >/dev/null 2>&1; then exit 0; fi
for candidate in /usr/sbin/nats-server /usr/local/sbin/nats-server /usr/local/bin/nats-server /usr/bin/nats-server; do
  if found "$candidate"; then exit 0; fi
done

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-nats-server: nats-server not found; installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  # apt waits for a lock another apt holds (a machine that has just booted may be updating).
  if apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && apt-get -o DPkg::Lock::Timeout=300 install -y -q nats-server >/dev/null; then
    if command -v nats-server >/dev/null 2>&1 || found /usr/sbin/nats-server; then exit 0; fi
  fi
  echo "ensure-nats-server: apt-get could not install nats-server" >&2
  exit 1
fi

cat >&2 <<'MSG'
ensure-nats-server: nats-server was not found (searched NATS_SERVER_BIN, PATH, /usr/sbin, /usr/local/bin).
Install it, then run this again:
  Debian/Ubuntu:  sudo apt-get install -y nats-server
  macOS:          brew install nats-server
  any system:     https://docs.nats.io/running-a-nats-service/introduction/installation
or set NATS_SERVER_BIN to the path of a nats-server binary.
MSG
exit 1
