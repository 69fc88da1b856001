#!/usr/bin/env bash
# Installs what the Booking platform needs on a fresh Debian 12 machine with a .NET 10 SDK: redis-server, the
# PostgreSQL 15 server binaries, kcat, Chromium (for the dashboard's browser test), procps (the tests signal
# processes with kill) and util-linux (runuser for PostgreSQL as root, flock for test.sh's lock). Safe to run again: it installs only what is missing, and stops only the system services of
# packages it installed itself.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
[ -x /bin/kill ] || missing+=(procps)
# The dashboard's browser test drives Debian's Chromium (Playwright cannot download browsers here).
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: run as root, or install sudo, to install ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
  fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a system-wide Redis and PostgreSQL on install; the project runs its own on free ports. Only the
  # services of packages installed just now are stopped: one that was there before is the machine owner's.
  services=()
  for package in "${missing[@]}"; do
    case "$package" in
      redis-server) services+=(redis-server) ;;
      postgresql-15) services+=(postgresql) ;;
    esac
  done
  if [ ${#services[@]} -gt 0 ]; then
    "${as_root[@]}" systemctl disable --now "${services[@]}" >/dev/null 2>&1 || true
  fi
fi

# Run as root, the AppHost starts PostgreSQL as the postgres user (initdb refuses root).
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "setup: the postgres OS user is missing; reinstall postgresql-15" >&2
  exit 1
fi

command -v dotnet >/dev/null 2>&1 || { echo "setup: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
# global.json asks for a .NET 10 SDK: dotnet --version fails here when no installed SDK satisfies it.
if ! sdk=$(cd "$(dirname "$0")/.." && dotnet --version 2>/dev/null); then
  echo "setup: global.json needs a .NET 10.0 SDK; installed: $(dotnet --list-sdks | awk '{print $1}' | paste -sd ' ')" >&2
  exit 1
fi
echo "setup: redis $(redis-server --version | awk '{print $3}'), $(/usr/lib/postgresql/15/bin/postgres --version), dotnet $sdk"
