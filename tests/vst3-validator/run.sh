#!/usr/bin/env bash
# Steinberg's VST3 validator, built from the VST 3 SDK 3.7.14 sources (the validator target
# only), run extensively (-e) on a bundle. Exits non-zero on a failed test or any "ERROR" line.
#
#   tests/vst3-validator/run.sh [BUNDLE]      # default target/bundled/sift.vst3
#
# VST3SDK: where the SDK is (default /tmp/vst3sdk; cloned there if missing, from GitHub, or from
# bare clones under $VST3SDK_MIRROR/steinbergmedia+<repository>/repo). See README.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bundle=${1:-$repo/target/bundled/sift.vst3}
sdk=${VST3SDK:-/tmp/vst3sdk}
tag=v3.7.14_build_55
# The submodules the validator needs (not vstgui4, doc or tutorials), and their repositories.
parts="base:vst3_base cmake:vst3_cmake pluginterfaces:vst3_pluginterfaces public.sdk:vst3_public_sdk"

if [ ! -f "$sdk/public.sdk/CMakeLists.txt" ]; then
    if [ -n "${VST3SDK_MIRROR:-}" ]; then
        git clone -q "$VST3SDK_MIRROR/steinbergmedia+vst3sdk/repo" "$sdk"
        git -C "$sdk" checkout -q "$tag"
        for part in $parts; do
            path=${part%%:*}
            commit=$(git -C "$sdk" rev-parse "HEAD:$path")
            rm -rf "${sdk:?}/$path"
            git clone -q "$VST3SDK_MIRROR/steinbergmedia+${part#*:}/repo" "$sdk/$path"
            git -C "$sdk/$path" checkout -q "$commit"
        done
    else
        git clone -q --depth 1 --branch "$tag" https://github.com/steinbergmedia/vst3sdk "$sdk"
        for part in $parts; do
            git -C "$sdk" submodule update -q --init --depth 1 "${part%%:*}"
        done
    fi
fi

validator=$sdk/build/bin/Release/validator
if [ ! -x "$validator" ]; then
    cmake -S "$sdk" -B "$sdk/build" -DCMAKE_BUILD_TYPE=Release -DSMTG_ENABLE_VSTGUI_SUPPORT=OFF \
        -DSMTG_ENABLE_VST3_PLUGIN_EXAMPLES=OFF -DSMTG_ENABLE_VST3_HOSTING_EXAMPLES=OFF >/dev/null
    nice -n 5 cmake --build "$sdk/build" --target validator -j"$(nproc)"
fi

log=${VALIDATOR_LOG:-$(mktemp --suffix=.log)}
status=0
"$validator" -e "$bundle" >"$log" 2>&1 || status=$?
grep -E 'ERROR|Failed\]' "$log" || true
grep '^Result:' "$log" || echo "no result line: the validator stopped early (status $status)"
echo "full log: $log"
if [ "$status" -ne 0 ] || grep -q ERROR "$log"; then
    exit 1
fi
