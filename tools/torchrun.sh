#!/usr/bin/env bash
# torchrun NPROC processes of a tool: tools/torchrun.sh NPROC TOOL [tool args]
# (used by dist_train.sh and dist_test.sh). NNODES, NODE_RANK, MASTER_ADDR and
# PORT as upstream; multi-node rendezvous is torchrun's. PYTHON_BIN picks the
# interpreter: default the project's .venv if present, else python on PATH.
set -euo pipefail

NPROC=$1
TOOL=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
repo=$(cd "$(dirname "$0")/.." && pwd)
default_python=python
[[ -x "$repo/.venv/bin/python" ]] && default_python="$repo/.venv/bin/python"

PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON_BIN:-$default_python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$TOOL" "${@:3}"
