#!/usr/bin/env bash
# Screenshot of the Emoji Cam tray menu under Xvfb, saved as docs/tray-menu.png (or the path given).
#
# Starts a virtual X display (Xvfb), a system tray host (trayer), and the real tray (`python -m tray`, demo clip, no
# output) in a D-Bus session; right-clicks the tray icon with xdotool, opens "Emoji pack" with the keyboard, grabs
# the screen with Pillow and crops it to the menu. The app is then quit through its test control
# (EMOJI_CAM_TEST_CONTROL=stdin, see tray/app.py). Nothing outside a temporary folder is touched.
#
# Needs (Debian): apt-get install -y xvfb xdotool trayer dbus-daemon
# Usage: scripts/tray_screenshot.sh [OUT.png]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$REPO/docs/tray-menu.png}")"
PY="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
for tool in Xvfb xdotool trayer dbus-run-session; do
    command -v "$tool" >/dev/null || { echo "tray_screenshot: $tool is missing; install it: apt-get install -y xvfb xdotool trayer dbus-daemon" >&2; exit 1; }
done

TMP="$(mktemp -d)"
chmod 700 "$TMP"
PIDS=()
cleanup() {
    exec 3>&- 2>/dev/null || true
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# a free display number, chosen by Xvfb itself
Xvfb -displayfd 5 -screen 0 800x600x24 -nolisten tcp 5>"$TMP/display" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/display" ] && break; sleep 0.1; done
export DISPLAY=":$(head -n1 "$TMP/display")"

trayer --edge top --align right --widthtype pixel --width 120 --height 32 --SetDockType true \
       --transparent false --tint 0xdddddd >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

"$PY" -c "from vcam_emoji.config import ensure_config_file; ensure_config_file('$TMP/config.toml')"
mkfifo "$TMP/control"
env -u PYSTRAY_BACKEND -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$TMP" XDG_CONFIG_HOME="$TMP/cfg" \
    XDG_DATA_HOME="$TMP/data" XDG_CACHE_HOME="$TMP/cache" EMOJI_CAM_TEST_CONTROL=stdin PYTHONPATH="$REPO" NO_AT_BRIDGE=1 \
    dbus-run-session -- "$PY" -m tray --source demo --sink none --config "$TMP/config.toml" \
    <"$TMP/control" >"$TMP/app.out" 2>"$TMP/app.err" &
APP=$!
PIDS+=($APP)
exec 3>"$TMP/control"

ICON=""
for _ in $(seq 120); do
    ICON="$(xdotool search --name '^Emoji Cam' 2>/dev/null | head -n1 || true)"
    [ -n "$ICON" ] && grep -q '"state": "running"' "$TMP/app.out" 2>/dev/null && break
    [ -n "$ICON" ] && echo status >&3
    sleep 0.5
done
[ -n "$ICON" ] || { echo "tray_screenshot: the tray icon did not appear; the app said:" >&2; cat "$TMP/app.err" >&2; exit 1; }

eval "$(xdotool getwindowgeometry --shell "$ICON")"
xdotool mousemove $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 3
sleep 1
xdotool key Down Down Down Right   # Enabled, Paused, Emoji pack, and open its submenu
sleep 1

"$PY" - "$DISPLAY" "$OUT" <<'PYEOF'
import sys
from PIL import ImageGrab, ImageChops, Image

display, out = sys.argv[1], sys.argv[2]
shot = ImageGrab.grab(xdisplay=display).convert("RGB")
box = ImageChops.difference(shot, Image.new("RGB", shot.size, (0, 0, 0))).getbbox()
if box is None:
    sys.exit("tray_screenshot: the screen is empty")
margin = 12
box = (max(0, box[0] - margin), 0, min(shot.width, box[2] + margin), min(shot.height, box[3] + margin))
shot.crop(box).save(out)
print(f"tray_screenshot: wrote {out} ({box[2] - box[0]}x{box[3] - box[1]})")
PYEOF

xdotool key Escape Escape Escape
echo "click quit" >&3
for _ in $(seq 60); do kill -0 "$APP" 2>/dev/null || break; sleep 0.5; done
if wait "$APP"; then echo "tray_screenshot: the tray quit cleanly"; else echo "tray_screenshot: the tray exited with an error:" >&2; cat "$TMP/app.err" >&2; exit 1; fi
