#!/usr/bin/env bash
# Runs the whole Booking system on this machine: installs what is missing, builds, starts the AppHost.
# Usage: scripts/run.sh [--fresh]   (--fresh starts from empty data under .data/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec dotnet run --project Booking.AppHost -- "$@"
