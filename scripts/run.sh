#!/usr/bin/env bash
# Start Emoji Cam on a fresh machine: sets up .venv, then runs the live app (`vcam-emoji run`).
# With no camera it shows the bundled demo clip; with no virtual-camera driver it shows a preview window, or writes
# emoji-cam-output.mp4 when there is no display - and says so. Extra arguments go to `vcam-emoji run`
# (e.g. --source demo, --sink preview, --pack classic, --seconds 10). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/vcam-emoji run "$@"
