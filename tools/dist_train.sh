#!/usr/bin/env bash
# Distributed training: tools/dist_train.sh CONFIG NPROC [train.py args]
# Without CUDA it runs on the CPU (gloo backend, DDP without device_ids).
# Environment: see tools/torchrun.sh.
set -euo pipefail
exec bash "$(dirname "$0")/torchrun.sh" "$2" "$(dirname "$0")/train.py" \
    "$1" --launcher pytorch "${@:3}"
