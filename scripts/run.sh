#!/usr/bin/env bash
# Runs the whole Booking system on this machine through the Aspire AppHost: installs what is missing, builds,
# starts every resource and prints where each one is and the Aspire dashboard's URL (http://127.0.0.1:18888).
# Usage: scripts/run.sh [--fresh] [AppHost arguments, e.g. --AppHost:DataStores=Executable]
#   --fresh  starts from empty data (removes the data directory: .data/, or the one --AppHost:DataDirectory= or
#            AppHost__DataDirectory names; Redis, PostgreSQL and their generated passwords)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

args=()
fresh=false
data="${AppHost__DataDirectory:-.data}"
previous=""
for arg in "$@"; do
  case "${arg,,}" in
    --fresh) fresh=true ;;
    --apphost:datadirectory=*) data="${arg#*=}"; args+=("$arg") ;;
    *)
      # The space form: --AppHost:DataDirectory /var/tmp/booking
      if [ "${previous,,}" = "--apphost:datadirectory" ]; then data="$arg"; fi
      args+=("$arg") ;;
  esac
  previous="$arg"
done
if [ "$fresh" = true ]; then
  echo "run: --fresh, removing $data"
  rm -rf -- "$data"
fi

dotnet build Booking.slnx -nologo -clp:ErrorsOnly
exec dotnet run --project Booking.AppHost --no-build -- "${args[@]}"
