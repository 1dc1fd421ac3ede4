#!/usr/bin/env bash
# The README's test command: set up a fresh machine, then lint, type-check the core and run every test.
# `.ci/run` calls exactly this. Exits non-zero on any failure, and also when pytest ran no test at all.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== ruff"
python -m ruff check .
echo "== mypy (core)"
python -m mypy
echo "== pytest"
set +e
python -m pytest -q -p no:cacheprovider --durations=15 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
