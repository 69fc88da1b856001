#!/usr/bin/env bash
# Installs what the Booking platform needs on a fresh Debian 12 machine with the .NET 10 SDK:
# redis-server, the PostgreSQL 15 server binaries, kcat, and Chromium (for the dashboard's browser test). Safe to run again: it installs only what is missing.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
# The dashboard's browser test drives Debian's Chromium (Playwright cannot download browsers here).
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a system-wide Redis and PostgreSQL on install; the project runs its own on free ports.
  $sudo_cmd systemctl disable --now redis-server postgresql >/dev/null 2>&1 || true
fi

if ! id postgres >/dev/null 2>&1; then
  echo "setup: the postgres OS user is missing; reinstall postgresql-15" >&2
  exit 1
fi

command -v dotnet >/dev/null 2>&1 || { echo "setup: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
# global.json pins the SDK band: dotnet --version fails here when no installed SDK satisfies it.
if ! sdk=$(cd "$(dirname "$0")/.." && dotnet --version 2>/dev/null); then
  echo "setup: global.json needs the .NET SDK 10.0.401 or a later 10.0 release; installed: $(dotnet --list-sdks | awk '{print $1}' | paste -sd ' ')" >&2
  exit 1
fi
echo "setup: redis $(redis-server --version | awk '{print $3}'), $(/usr/lib/postgresql/15/bin/postgres --version), dotnet $sdk"
