#!/usr/bin/env bash
# Copyright 2026 enet_ros contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# The main job end to end: a sample RGB-D bag of cartons (enet-ros synth), replayed through the
# live enet node (a child process, use_sim_time, use_depth) with the shipped box model
# (models/enet_boxes.pt), the report printed (frames, latency, boxes, mIoU and box pose errors
# against the bag's ground truth), overlays and a contact sheet written, outputs recorded.
#
#   scripts/demo.sh                      # what `make demo` runs (after setting up .venv/)
#   scripts/demo.sh --weights CKPT       # any extra option goes to `enet-ros replay`
#
# Environment: OUT (default out/demo), COUNT (scenes, default 12), SEED (default 7),
# SIZE (default 640x480), VENV (default .venv).
#
# Writes: $OUT/bag (input rosbag2, mcap), $OUT/synth (the scenes as files), $OUT/report.json,
# $OUT/frames/frame_*.png + contact_sheet.png, $OUT/recorded (the node's outputs, mcap),
# $OUT/node.log (the node's own log).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-out/demo}"
COUNT="${COUNT:-12}"
SEED="${SEED:-7}"
SIZE="${SIZE:-640x480}"
VENV="${VENV:-.venv}"
ENET_ROS="$VENV/bin/enet-ros"

if [ ! -x "$ENET_ROS" ]; then
    echo "demo: $ENET_ROS not found: setting up $VENV (make venv)"
    make venv
fi

for arg in "$@"; do
    if [ "$arg" = "-h" ] || [ "$arg" = "--help" ]; then
        # Usage only: the header above, then the options this script passes on.
        sed -n '16,29p' "$0" | sed 's/^# \{0,1\}//'
        echo
        "$ENET_ROS" replay --help
        exit 0
    fi
done

weights_given=0
for arg in "$@"; do
    if [ "$arg" = "--weights" ] || [[ "$arg" == --weights=* ]]; then weights_given=1; fi
done
if [ "$weights_given" = 0 ] && [ ! -f models/enet_boxes.pt ]; then
    echo "demo: the shipped box model models/enet_boxes.pt is missing;" \
         "train it or pass --weights CKPT" >&2
    exit 1
fi

start=$(date +%s)
rm -rf "$OUT"
mkdir -p "$OUT"
echo "demo: rendering $COUNT synthetic scenes ($SIZE, seed $SEED) into $OUT/bag"
"$ENET_ROS" synth --out "$OUT/synth" --count "$COUNT" --seed "$SEED" --size "$SIZE" \
    --bag "$OUT/bag"
echo "demo: replaying $OUT/bag through the live node"
"$ENET_ROS" replay "$OUT/bag" --fast --report "$OUT/report.json" \
    --export-frames "$OUT/frames" --record "$OUT/recorded" --node-log "$OUT/node.log" "$@"
echo "demo: done in $(( $(date +%s) - start )) s: report $OUT/report.json," \
     "overlays $OUT/frames (contact_sheet.png), recorded outputs $OUT/recorded"
