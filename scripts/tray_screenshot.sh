#!/usr/bin/env bash
# Screenshot of the Emoji Cam tray menu under Xvfb, saved as docs/tray-menu.png (or the path given).
#
# Starts a virtual X display (Xvfb), a system tray host (trayer), and the real tray (`python -m tray`, demo clip, no
# output) in a D-Bus session; right-clicks the tray icon with xdotool, opens "Emoji pack" with the keyboard (how far
# down it is comes from the app's own menu), grabs the screen with Pillow and crops it to the menu. The app is then
# quit through its test control (EMOJI_CAM_TEST_CONTROL=stdin, see tray/app.py). Nothing outside a temporary folder
# is touched, and OUT is written only when the picture shows an open menu: where the tray has no menu (pystray's
# Xlib backend, without PyGObject) the script says why and exits 1.
#
# Needs (Debian): apt-get install -y xvfb xdotool trayer dbus-daemon python3-gi gir1.2-gtk-3.0, with PyGObject
# visible to the venv (scripts/setup.sh does that).
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
DISPLAY=":$(head -n1 "$TMP/display")"
export DISPLAY

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
PIDS+=("$APP")
exec 3>"$TMP/control"

# ask COMMAND: send it to the app's test control and put its answer (the JSON after the prefix) in $TMP/answer.
# (Not in a subshell: it counts the answers.)
ANSWERS=0
ask() {
    echo "$1" >&3
    ANSWERS=$((ANSWERS + 1))
    for _ in $(seq 200); do
        [ "$(grep -c '^emoji-cam-control: ' "$TMP/app.out" 2>/dev/null)" -ge "$ANSWERS" ] && break
        sleep 0.1
    done
    grep '^emoji-cam-control: ' "$TMP/app.out" | sed -n "${ANSWERS}p" | sed 's/^emoji-cam-control: //' >"$TMP/answer"
}

ICON=""
for _ in $(seq 120); do
    ICON="$(xdotool search --name '^Emoji Cam' 2>/dev/null | head -n1 || true)"
    if [ -n "$ICON" ]; then ask status; grep -q '"state": "running"' "$TMP/answer" && break; fi
    sleep 0.5
done
[ -n "$ICON" ] || { echo "tray_screenshot: the tray icon did not appear; the app said:" >&2; cat "$TMP/app.err" >&2; exit 1; }
ask status
BACKEND="$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["backend"])' <"$TMP/answer")"
case "$BACKEND" in
    gtk|appindicator) ;;
    *) echo "tray_screenshot: the tray runs pystray's $BACKEND backend, which shows no menu; not writing $OUT." >&2
       "$PY" -m tray.system_gi --check || true
       exit 1 ;;
esac
# Keyboard steps to "Emoji pack": GTK's first Down selects the first item that can be chosen, then one per item
ask menu
DOWNS="$("$PY" -c '
import json, sys
items = [i for i in json.load(sys.stdin) if i["enabled"]]
print(" ".join(["Down"] * (1 + [i["key"] for i in items].index("pack"))))' <"$TMP/answer")"

eval "$(xdotool getwindowgeometry --shell "$ICON")"
TRAY_BOTTOM=$((Y + HEIGHT))
xdotool mousemove $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 3
sleep 1
# shellcheck disable=SC2086 # one key name per word
xdotool key $DOWNS Right   # down to Emoji pack, and open its submenu
sleep 1

"$PY" - "$DISPLAY" "$OUT" "$TRAY_BOTTOM" <<'PYEOF'
import os
import sys
from PIL import ImageGrab, ImageChops, Image

display, out, tray_bottom = sys.argv[1], sys.argv[2], int(sys.argv[3])
shot = ImageGrab.grab(xdisplay=display).convert("RGB")
box = ImageChops.difference(shot, Image.new("RGB", shot.size, (0, 0, 0))).getbbox()
# the open menu and its submenu reach far below the tray bar; the tray bar alone (an icon without a menu) does not
if box is None or box[3] - tray_bottom < 200 or box[2] - box[0] < 250:
    sys.exit(f"tray_screenshot: no open menu on the screen (what is drawn: {box}); not writing {out}")
margin = 12
box = (max(0, box[0] - margin), 0, min(shot.width, box[2] + margin), min(shot.height, box[3] + margin))
tmp = out + ".tmp.png"
shot.crop(box).save(tmp)
os.replace(tmp, out)
print(f"tray_screenshot: wrote {out} ({box[2] - box[0]}x{box[3] - box[1]})")
PYEOF

xdotool key Escape Escape Escape
ask "click quit"
for _ in $(seq 60); do kill -0 "$APP" 2>/dev/null || break; sleep 0.5; done
if wait "$APP"; then echo "tray_screenshot: the tray quit cleanly"; else echo "tray_screenshot: the tray exited with an error:" >&2; cat "$TMP/app.err" >&2; exit 1; fi
