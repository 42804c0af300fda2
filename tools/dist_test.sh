#!/usr/bin/env bash
# Distributed testing: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args]
# Without CUDA it runs on the CPU (gloo backend, DDP without device_ids).
# Environment: see tools/torchrun.sh.
set -euo pipefail
exec bash "$(dirname "$0")/torchrun.sh" "$3" "$(dirname "$0")/test.py" \
    "$1" "$2" --launcher pytorch "${@:4}"
