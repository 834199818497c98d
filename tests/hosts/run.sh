#!/usr/bin/env bash
# Runs the VST3 host tests (DawDreamer, pedalboard, Ardour) under a private Xvfb display + openbox.
# Needs: apt packages xvfb openbox libgl1 libglib2.0-0 libx11-6 (see README in the report),
# ardour (Ardour 7's headless ardour7-lua, for test_ardour.py), and .venv with
# tests/hosts/requirements.txt. Exits with pytest's status.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

display=""
for n in $(seq 90 140); do
    if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then display=$n; break; fi
done
if [ -z "$display" ]; then echo "run.sh: no free X display" >&2; exit 1; fi

Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >/tmp/sift-xvfb.log 2>&1 &
xvfb_pid=$!
wm_pid=""
cleanup() {
    [ -n "$wm_pid" ] && kill "$wm_pid" 2>/dev/null
    kill "$xvfb_pid" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

for _ in $(seq 100); do
    [ -e "/tmp/.X11-unix/X$display" ] && break
    if ! kill -0 "$xvfb_pid" 2>/dev/null; then echo "run.sh: Xvfb failed:" >&2; cat /tmp/sift-xvfb.log >&2; exit 1; fi
    sleep 0.1
done
export DISPLAY=":$display"
openbox >/tmp/sift-openbox.log 2>&1 &
wm_pid=$!
sleep 0.5

.venv/bin/python -m pytest tests/hosts -q -p no:cacheprovider "$@"
status=$?
exit $status
