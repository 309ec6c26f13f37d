#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv and install vcam-emoji into it (editable).
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test
# Re-running is cheap: it reinstalls only when pyproject.toml or the extras changed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "setup: Python 3.10 or newer is needed (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$python" --version)" >&2
  "$python" -m venv .venv
fi
stamp=".venv/.vcam-emoji-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) ${extras}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing vcam-emoji${extras:+[$extras]} and its dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
# The tray menu on Linux needs PyGObject with GTK 3 (pystray's AppIndicator and GTK backends). As root with apt-get,
# install the system's packages that are missing (EMOJI_CAM_NO_APT=1 skips this); then let .venv use the system's
# PyGObject (tray/system_gi.py), or say how to get it. Without it the tray still works: an icon without a menu.
if [ "$(uname -s)" = Linux ]; then
  if [ "$(id -u)" = 0 ] && [ -z "${EMOJI_CAM_NO_APT:-}" ] && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for package in python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1; do
      dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
    done
    if [ -n "$missing" ]; then
      echo "setup: installing$missing (for the tray menu)" >&2
      apt-get update -qq >/dev/null 2>&1 || true
      # shellcheck disable=SC2086 # one package name per word
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 \
        || echo "setup: could not install$missing; the tray will have no menu" >&2
    fi
  fi
  .venv/bin/python -m tray.system_gi --quiet || true
fi
