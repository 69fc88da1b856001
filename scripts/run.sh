#!/usr/bin/env bash
# Runs the whole Booking system on this machine through the Aspire AppHost: installs what is missing, builds,
# starts every resource and prints where each one is and the Aspire dashboard's login link (http://127.0.0.1:18888/login?t=...).
# Usage: scripts/run.sh [--fresh] [AppHost arguments, e.g. --AppHost:DataStores=Executable]
#   --fresh  starts from empty data: the AppHost deletes the executable Redis's and PostgreSQL's data and the
#            generated passwords under its data directory (.data/ by default, see the README for root; or wherever AppHost:DataDirectory points,
#            however it is set) before starting anything; nothing else there is touched
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

args=()
for arg in "$@"; do
  case "${arg,,}" in
    --fresh) args+=("--AppHost:Fresh=true") ;;
    *) args+=("$arg") ;;
  esac
done

dotnet build Booking.slnx -nologo -clp:ErrorsOnly
exec dotnet run --project Booking.AppHost --no-build -- "${args[@]}"
