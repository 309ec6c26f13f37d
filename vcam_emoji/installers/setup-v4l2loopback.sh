#!/usr/bin/env bash
# Sets up the "Emoji Cam" virtual camera on Linux: installs v4l2loopback, configures it to create one camera named
# "Emoji Cam" at every boot, and loads it now. Run with --dry-run first to see every command and file.
# It ships inside the vcam-emoji package; `vcam-emoji setup-vcam [--dry-run]` runs it (with sudo).
set -euo pipefail

NAME="Emoji Cam"
VIDEO_NR=10
DRY_RUN=0
ROOT=""
SKIP_INSTALL=0
PROG="$0" # how the user started it, for the messages; `vcam-emoji setup-vcam` passes --prog

usage() {
    cat <<EOF
Usage: $PROG [--dry-run] [--video-nr N] [--name NAME] [--skip-install] [--root DIR]

Installs v4l2loopback and creates a virtual camera named "$NAME" that Zoom, Teams, Meet, OBS and browsers can pick.
It needs root (sudo), except with --dry-run.

  --dry-run       print every command it would run and every file it would write; change nothing
  --video-nr N    the camera becomes /dev/videoN (default: $VIDEO_NR, clear of real webcams)
  --name NAME     the name apps show (default: "$NAME"; Emoji Cam looks for this name)
  --skip-install  do not install packages (v4l2loopback is already installed)
  --root DIR      write the configuration files under DIR instead of / (for packaging)
  --prog NAME     the command to name in messages (default: this script's path)
  -h, --help      show this help

Steps:
  1. install the packages: Debian/Ubuntu: v4l2loopback-dkms v4l2loopback-utils (+ kernel headers for DKMS);
     Fedora: v4l2loopback akmod-v4l2loopback (from RPM Fusion)
  2. write /etc/modprobe.d/emoji-cam.conf (module options) and /etc/modules-load.d/emoji-cam.conf (load at boot)
  3. load the module now (modprobe v4l2loopback)
With Secure Boot on, the kernel refuses unsigned DKMS/akmod modules: see the warning it prints.
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# Runs a command, or only prints it with --dry-run.
run() {
    if [ "$DRY_RUN" -eq 1 ]; then
        say "would run: $*"
    else
        say "+ $*"
        "$@"
    fi
}

# write_file PATH CONTENT: writes CONTENT to ROOT/PATH, or only prints it with --dry-run.
write_file() {
    local path="$ROOT$1" content="$2"
    if [ "$DRY_RUN" -eq 1 ]; then
        say "would write $path:"
        printf '%s\n' "$content" | sed 's/^/    /'
    else
        mkdir -p "$(dirname "$path")"
        printf '%s\n' "$content" >"$path"
        say "wrote $path"
    fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --video-nr)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            VIDEO_NR="$2"
            shift
            ;;
        --name)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            NAME="$2"
            shift
            ;;
        --root)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            ROOT="${2%/}"
            shift
            ;;
        --skip-install) SKIP_INSTALL=1 ;;
        --prog)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            PROG="$2"
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            printf 'unknown option: %s\n\n' "$1" >&2
            usage >&2
            exit 2
            ;;
    esac
    shift
done

case "$VIDEO_NR" in
    '' | *[!0-9]*) die "--video-nr: expected a number (e.g. 10), got '$VIDEO_NR'" ;;
esac
case "$NAME" in
    *'"'*) die "--name: the name cannot contain a double quote" ;;
esac

if [ "$(uname -s)" != "Linux" ]; then
    die "this script is for Linux; on Windows install Unity Capture or OBS, on macOS install OBS Studio"
fi
if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run it as root: sudo $PROG (or try --dry-run first to see what it does)"
fi
if [ "$DRY_RUN" -eq 1 ]; then
    say "Dry run: nothing is installed, written or loaded."
fi

# --- Secure Boot -------------------------------------------------------------------------------------------------------
check_secure_boot() {
    if ! command -v mokutil >/dev/null 2>&1; then
        return 0
    fi
    local state
    state="$(mokutil --sb-state 2>/dev/null || true)"
    case "$state" in
        *"SecureBoot enabled"*)
            warn "Secure Boot is enabled. The kernel only loads signed modules, and v4l2loopback is built locally"
            warn "by DKMS/akmods, so it must be signed with a key you enrol (MOK):"
            warn "  - Debian/Ubuntu: DKMS signs with /var/lib/dkms/mok.pub; if it asks, set a password, reboot and"
            warn "    choose 'Enroll MOK' in the blue MOK manager (or: sudo mokutil --import /var/lib/dkms/mok.pub)."
            warn "  - Fedora: sudo kmodgenca -a && sudo mokutil --import /etc/pki/akmods/certs/public_key.der, reboot,"
            warn "    enrol the key, then sudo akmods --force."
            warn "If modprobe says 'Key was rejected by service' or 'Operation not permitted', this is why."
            ;;
    esac
}

# --- packages ----------------------------------------------------------------------------------------------------------
install_packages() {
    if command -v apt-get >/dev/null 2>&1; then
        run apt-get update
        run apt-get install -y v4l2loopback-dkms v4l2loopback-utils
        # DKMS builds the module against the running kernel's headers.
        local headers
        headers="linux-headers-$(uname -r)"
        if [ "$DRY_RUN" -eq 1 ]; then
            say "would run: apt-get install -y $headers (if the package exists)"
        elif apt-cache show "$headers" >/dev/null 2>&1; then
            run apt-get install -y "$headers"
        else
            warn "no package $headers: if the module does not build, install your kernel's headers"
        fi
    elif command -v dnf >/dev/null 2>&1; then
        say "Fedora: akmod-v4l2loopback comes from RPM Fusion (free). If dnf cannot find it, enable RPM Fusion:"
        # shellcheck disable=SC2016 # printed for the user to run, not expanded here
        say '  sudo dnf install https://mirrors.rpmfusion.org/free/fedora/rpmfusion-free-release-$(rpm -E %fedora).noarch.rpm'
        run dnf install -y v4l2loopback akmod-v4l2loopback
        say "akmods builds the module in the background; if modprobe fails below, wait a minute or run: sudo akmods --force"
    else
        die "no apt-get or dnf here: install v4l2loopback (module + utils) with your package manager, then run $PROG --skip-install"
    fi
}

# --- configuration -----------------------------------------------------------------------------------------------------
MODPROBE_OPTIONS="options v4l2loopback devices=1 video_nr=$VIDEO_NR card_label=\"$NAME\" exclusive_caps=1"

write_config() {
    write_file /etc/modprobe.d/emoji-cam.conf "# Written by Emoji Cam (vcam-emoji setup-vcam).
# One virtual camera, /dev/video$VIDEO_NR, named \"$NAME\" - the name Emoji Cam looks for.
# exclusive_caps=1: the device reports only 'capture' once a program writes to it. Chrome, Chromium-based browsers
# (Meet, Teams web) and WebRTC apps list a camera only if it is capture-only, so without this they do not see it.
$MODPROBE_OPTIONS"
    write_file /etc/modules-load.d/emoji-cam.conf "# Written by Emoji Cam: load v4l2loopback at boot (options in /etc/modprobe.d/emoji-cam.conf).
v4l2loopback"
}

# --- loading -------------------------------------------------------------------------------------------------------------
device_named() {
    local f
    for f in /sys/class/video4linux/video*/name; do
        [ -e "$f" ] || continue
        if [ "$(cat "$f")" = "$1" ]; then
            printf '/dev/%s\n' "$(basename "$(dirname "$f")")"
            return 0
        fi
    done
    return 1
}

load_module() {
    local device
    if device="$(device_named "$NAME")"; then
        say "The \"$NAME\" camera already exists: $device. Nothing to load."
        return 0
    fi
    if [ -d /sys/module/v4l2loopback ]; then
        warn "v4l2loopback is already loaded with other options (another program, e.g. OBS, may have loaded it)."
        warn "To reload it with the Emoji Cam options, close every app using a virtual camera, then run:"
        warn "  sudo modprobe -r v4l2loopback && sudo modprobe v4l2loopback"
        warn "(or reboot). Until then Emoji Cam uses another loopback device, under that device's name."
        return 0
    fi
    if ! run modprobe v4l2loopback; then
        die "modprobe v4l2loopback failed; see the messages above (Secure Boot? a kernel update without headers?)"
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
        return 0
    fi
    if device="$(device_named "$NAME")"; then
        say "Done: \"$NAME\" is $device. Start Emoji Cam, then pick \"$NAME\" as the camera in your meeting app."
    else
        die "the module loaded but no device is named \"$NAME\"; check: cat /sys/class/video4linux/video*/name"
    fi
}

check_secure_boot
if [ "$SKIP_INSTALL" -eq 1 ]; then
    say "Skipping package installation (--skip-install)."
else
    install_packages
fi
write_config
load_module
