#!/usr/bin/env bash
# The README's main command: set up a fresh machine, then run the demo on embedded defaults
# (bundled HaluEval sample, default policy, ./catalyst.duckdb). No network at run time, no API key.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec python -m catalyst demo "$@"
