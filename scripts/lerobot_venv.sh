#!/usr/bin/env bash
# Build the separate virtualenv with LeRobot 0.4.4 that checks our v3.0 exports with LeRobot's own
# `LeRobotDataset` (tests/lerobot_compat/). It lives outside the repository because lerobot's pins
# (torch<2.11, torchvision<0.26) clash with ours; see shared/notes/lerobot-loader.md.
#
#   bash scripts/lerobot_venv.sh [VENV_DIR]      (default: $LEROBOT_VENV, else /tmp/lerobot-venv)
#
# Idempotent: a finished venv (marked by .egocurate-ready) is left alone.
set -euo pipefail
VENV="${1:-${LEROBOT_VENV:-/tmp/lerobot-venv}}"
PYTHON="${PYTHON:-python3}"
if [ -f "$VENV/.egocurate-ready" ]; then
  echo "lerobot venv ready at $VENV"; exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/pip"
CONSTRAINTS="$VENV/constraints.txt"
# Keep the CPU torch build (pip finds 2.13.0+cpu in its find-links); anything else pulls GBs of CUDA.
echo "torch==2.13.0" > "$CONSTRAINTS"
"$PIP" install -q torch==2.13.0
# lerobot and torchvision without their pins: LeRobotDataset runs on torch 2.13 with torchvision 0.25.0,
# the last torchvision that has the `VideoReader` lerobot's "pyav" backend uses.
"$PIP" install -q --no-deps lerobot==0.4.4 torchvision==0.25.0
"$PIP" install -q -c "$CONSTRAINTS" "datasets<5" "huggingface-hub<0.36" "av<16" accelerate "packaging<26" pillow \
  pandas pyarrow jsonlines
# The PyPI torchvision is a CUDA build: on CPU torch its `nms` fake registration fails at import.
# Guard that one registration the way its neighbours are guarded.
"$VENV/bin/python" - <<'PY'
import pathlib
import sysconfig

path = pathlib.Path(sysconfig.get_paths()["purelib"]) / "torchvision" / "_meta_registrations.py"
text = path.read_text()
needle = '@torch.library.register_fake("torchvision::nms")'
if needle in text and "_has_ops() else (lambda f: f)" not in text:
    text = text.replace(needle, '@(torch.library.register_fake("torchvision::nms") '
                                'if torchvision.extension._has_ops() else (lambda f: f))')
    path.write_text(text)
PY
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c "from lerobot.datasets.lerobot_dataset import LeRobotDataset; import torchvision; print('lerobot ok, torchvision', torchvision.__version__)"
touch "$VENV/.egocurate-ready"
echo "lerobot venv ready at $VENV"
