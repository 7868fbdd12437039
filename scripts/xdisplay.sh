#!/usr/bin/env bash
# Run a command with an X server: the current one if DISPLAY is set, else Xvfb.
# As root on Debian/Ubuntu, installs (once; later runs find them and skip apt)
# Xvfb and the Mesa/xcb libraries Qt needs, and the reference renderers the
# export tests compare SVG and PDF against: rsvg-convert (librsvg2-bin) and
# pdftoppm (poppler-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! command -v rsvg-convert >/dev/null || ! command -v pdftoppm >/dev/null; then
  if as_root_apt; then
    echo "xdisplay: installing rsvg-convert and pdftoppm (SVG/PDF reference renderers)" >&2
    apt_install librsvg2-bin poppler-utils || true  # no network: the comparison tests skip, others run
    command -v rsvg-convert >/dev/null && command -v pdftoppm >/dev/null \
      || echo "xdisplay: rsvg-convert / pdftoppm still missing; the SVG/PDF comparison tests will skip" >&2
  else
    echo "xdisplay: rsvg-convert / pdftoppm missing (not root: cannot install librsvg2-bin poppler-utils);" \
         "the SVG/PDF comparison tests will skip" >&2
  fi
fi
if [ -n "${DISPLAY:-}" ] && [ -z "${FORCE_XVFB:-}" ]; then
  exec "$@"
fi
qxcb=$(ls .venv/lib/python3*/site-packages/PyQt6/Qt6/plugins/platforms/libqxcb.so 2>/dev/null | head -1 || true)
missing_libs() { [ -n "$qxcb" ] && ldd "$qxcb" 2>/dev/null | grep -q "not found"; }
if ! command -v xvfb-run >/dev/null || ! command -v xauth >/dev/null || missing_libs; then
  if as_root_apt; then
    echo "xdisplay: installing Xvfb and the Mesa/xcb libraries" >&2
    apt_install \
      xvfb xauth libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libglu1-mesa libxkbcommon-x11-0 \
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
      libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 libxcb-xkb1 \
      libfontconfig1 libdbus-1-3 fonts-dejavu-core
  else
    echo "xdisplay: no DISPLAY and no Xvfb; install xvfb (as root this script does it)" >&2
    exit 1
  fi
fi
exec xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX +render -noreset" "$@"
