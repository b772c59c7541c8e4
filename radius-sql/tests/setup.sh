#!/usr/bin/env bash
# Installs what the konnekted-radius integration tests need: FreeRADIUS 3.2 (Debian packages) with the
# PostgreSQL, MySQL/MariaDB and REST drivers, plus radclient/radtest, and PgBouncer. Idempotent.
#
# The Debian package may start (and enable) a system FreeRADIUS on 1812/1813. Our tests never use it: they run
# their own `freeradius -f -d <generated dir>` on high loopback ports. So we stop and disable the system unit.
# The same for PgBouncer: the tests start their own on a free port with generated files.
set -euo pipefail

PKGS="freeradius freeradius-postgresql freeradius-mysql freeradius-rest freeradius-utils pgbouncer"

missing=""
for p in $PKGS; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists once (an empty or stale list would make the install fail).
    apt-get update -qq
    apt-get install -y -q $missing
fi

# Stop/disable the system instance if the package started one. Best effort: no systemd in containers.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for unit in freeradius pgbouncer; do
        systemctl stop "$unit" >/dev/null 2>&1 || true
        systemctl disable "$unit" >/dev/null 2>&1 || true
    done
elif command -v service >/dev/null 2>&1; then
    service freeradius stop >/dev/null 2>&1 || true
    service pgbouncer stop >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d freeradius disable >/dev/null 2>&1 || true
    update-rc.d pgbouncer disable >/dev/null 2>&1 || true
fi

command -v freeradius >/dev/null
command -v radclient >/dev/null
command -v pgbouncer >/dev/null
# No `| head` here: under pipefail, freeradius dying of SIGPIPE would fail the script.
version="$(freeradius -v 2>&1 || true)"
echo "${version%%$'\n'*}"
echo "konnekted-radius test setup: ok"
