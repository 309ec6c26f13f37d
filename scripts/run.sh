#!/usr/bin/env bash
# Start Emoji Cam on a fresh machine: sets up .venv (on Linux with the system's PyGObject, for the tray menu; as root
# it installs python3-gi and AppIndicator first), then starts the tray app (`emoji-cam`), which runs headless
# and says so where no tray can be shown. With no camera it shows the bundled demo clip; with no virtual-camera
# driver it shows a preview window, or writes emoji-cam-output.mp4 when there is no display - and says so.
# Extra arguments go to `emoji-cam` (--source camera|demo|FILE, --sink vcam|preview|none|FILE, --config PATH).
# Quit from the tray menu, or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/emoji-cam "$@"
