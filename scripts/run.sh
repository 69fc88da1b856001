#!/usr/bin/env bash
# Runs the whole Booking system on this machine through the Aspire AppHost: installs what is missing, builds,
# starts every resource and prints where each one is and the Aspire dashboard's URL (http://127.0.0.1:18888).
# Usage: scripts/run.sh [--fresh] [AppHost arguments, e.g. --AppHost:DataStores=Executable]
#   --fresh  starts from empty data (removes .data/: Redis, PostgreSQL and their generated passwords)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

args=()
for arg in "$@"; do
  if [ "$arg" = "--fresh" ]; then
    echo "run: --fresh, removing .data/"
    rm -rf .data
  else
    args+=("$arg")
  fi
done

dotnet build Booking.slnx -nologo -clp:ErrorsOnly
exec dotnet run --project Booking.AppHost --no-build -- "${args[@]}"
