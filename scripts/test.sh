#!/usr/bin/env bash
# Runs the whole test suite (unit, integration against real Redis/PostgreSQL, distributed) from a fresh clone.
# Usage: scripts/test.sh [extra dotnet test arguments, e.g. --filter "FullyQualifiedName~Holds"]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# The fixtures keep their servers' data (a PostgreSQL cluster, Redis files) under the temp folder's booking-tests and
# delete it when done; a run killed part way (a cancelled CI job, the hang timeout below) leaves its share behind.
# Each run holds a shared lock while it runs: the one that can take it alone first deletes what is older than
# three hours (not a directory a test started with plain `dotnet test` is still using).
# The lock is only this script's (9>&- keeps it from the build servers and test hosts, which outlive it), and its file
# is opened without being created when it exists (the temp folder may refuse that of a file another user made).
scratch="${TMPDIR:-/tmp}/booking-tests"
mkdir -p "$scratch"
[ -e "$scratch.lock" ] || : > "$scratch.lock"
exec 9< "$scratch.lock"
if flock -xn 9; then
  find "$scratch" -mindepth 1 -maxdepth 1 -mmin +180 -exec rm -rf {} + || echo "test: some old test data in $scratch could not be deleted" >&2
fi
flock -s 9

results="artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

echo "test: building"
dotnet build Booking.slnx -c Release -nologo -clp:ErrorsOnly 9>&-

echo "test: running"
status=0
# A test still running after 15 minutes (the longest takes about 3) is hung: the run is stopped, naming it, rather
# than left to the CI runner's own limit with no results at all.
dotnet test Booking.slnx -c Release --no-build -nologo \
  --blame-hang-timeout 15m --blame-hang-dump-type none \
  --logger "trx;LogFileName=booking.trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@" 9>&- || status=$?

# One plain summary line, whatever the runner printed above.
trx=$(find "$results" -name '*.trx' | head -n 1)
if [ -n "$trx" ]; then
  passed=$(grep -o 'passed="[0-9]*"' "$trx" | head -n 1 | grep -o '[0-9]*')
  failed=$(grep -o 'failed="[0-9]*"' "$trx" | head -n 1 | grep -o '[0-9]*')
  # The failures again, last, with the start of each message: a long run's own output can bury them.
  if [ "${failed:-0}" -gt 0 ]; then
    awk '
      /<UnitTestResult / { inside = /outcome="Failed"/; message = 0; lines = 0
        if (inside) { match($0, /testName="[^"]*"/); print "failed: " substr($0, RSTART + 10, RLENGTH - 11) } }
      inside && /<Message>/ { message = 1; sub(/.*<Message>/, "") }
      inside && message { done = sub(/<\/Message>.*/, ""); if (lines++ < 12) print "  " $0; if (done) { message = 0; inside = 0 } }
    ' "$trx"
  fi
  echo "tests: ${passed:-0} passed, ${failed:-0} failed"
  if [ "${passed:-0}" -eq 0 ]; then
    echo "test: no test ran" >&2
    status=1
  fi
else
  echo "test: no results were written" >&2
  status=1
fi
exit $status
