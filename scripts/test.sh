#!/usr/bin/env bash
# Run the test suite on a fresh machine: sets up .venv with the test extra, then runs pytest.
# Tests that need ../shared (datasets, media), PyTorch, a display, a camera or a virtual-camera device skip with a
# reason when those are absent. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# The tray smoke test needs a virtual X server and a tray host (Debian packages); it skips with the reason without them.
if ! command -v Xvfb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing xvfb, xdotool, trayer and dbus for the tray tests" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xdotool trayer dbus-daemon; } \
    >/dev/null 2>&1 || echo "test: could not install xvfb/trayer: the tray smoke test will skip" >&2
fi
# The no-network test also traces the native socket() calls with strace where it is installed.
if ! command -v strace >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing strace for the no-network test" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace; } >/dev/null 2>&1 \
    || echo "test: could not install strace: the no-network test's strace part will skip" >&2
fi
# The Studio browser test drives Debian's chromium through its chromedriver (never a browser download); it skips
# with the reason without them.
if ! { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing chromium and chromium-driver for the Studio browser test" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
    >/dev/null 2>&1 || echo "test: could not install chromium: the Studio browser test will skip" >&2
fi
# PyTorch only for the training tests, and only from a local CPU wheel (never a multi-GB download).
wheels="${TORCH_WHEELS:-/opt/wheels}"
if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  if compgen -G "$wheels/torch-2.13.0*.whl" >/dev/null; then
    .venv/bin/python -m pip install --quiet --find-links "$wheels" torch==2.13.0
  else
    echo "test: no local PyTorch 2.13.0 wheel in $wheels (set TORCH_WHEELS): the training tests will skip" >&2
  fi
fi
exec .venv/bin/python -m pytest -ra "$@"
