#!/usr/bin/env bash
# The GPU check (DEVELOPERS.md): on a CUDA machine, the Triton kernels' and
# the layers' tests, a training step that must not wait for the host, the
# layer benchmark (PAFU p64/p512, ACDA a256/a128 against cuDNN convs, fp32
# and bf16, peak memory), a short AMP training and a 1-GPU dist_train.sh run
# of the toy PAFU config, and one e2e train + test per OpenMMLab codebase
# that imports there. Each step has a time limit, cut to what is left of the
# check's budget (GPU_CHECK_BUDGET_S, default 450 s); steps past the budget
# are skipped, so the check ends within it.
#
#   bash tools/gpu_check.sh                   # run the check
#   bash tools/gpu_check.sh --dry-run         # list the steps, run nothing
#   bash tools/gpu_check.sh --prepare-wheels  # fill .whl/ (needs network)
#
# The machine needs python3 (PYTHON) with a CUDA torch and triton, numpy,
# scipy, matplotlib, opencv, pytest; the pure-Python packages it lacks come
# as wheels from .whl/ (git-ignored, made by --prepare-wheels for Python
# 3.12) and install into a temporary folder in seconds, without network.
# Everything goes under $OUT (default work_dirs/gpu_check): gpu_check.log,
# summary.md (which steps ran, passed, failed or were skipped, and why) and
# the benchmark tables.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
RESULTS=${OUT:-$REPO/work_dirs/gpu_check}
BUDGET_S=${GPU_CHECK_BUDGET_S:-450}
WHEELS_DIR=$REPO/.whl
# mmengine and mmcv-lite (what pafu_acda_mm.layers imports) and their
# pure-Python needs that a bare torch machine lacks.
WHEELS=(mmengine==0.10.7 mmcv-lite==2.1.0 addict==2.4.0 termcolor==3.3.0
        yapf==0.43.0 platformdirs==4.3.6)
# The toy PAFU config, shortened to seconds (as tests/tools' small_sad).
TOY_CONFIG=configs/pafu_sad/pafu_sad.py
TOY_OPTIONS=(train_cfg.max_iters=20 train_cfg.val_interval=1000
             train_dataloader.dataset.num_samples=16
             train_dataloader.dataset.size=32
             val_dataloader.dataset.num_samples=4
             val_dataloader.dataset.size=32
             default_hooks.logger.interval=10)

mode=${1:-run}
case $mode in
    run | --dry-run | --prepare-wheels) ;;
    *) echo "usage: $0 [--dry-run | --prepare-wheels]" >&2; exit 2 ;;
esac

if [[ $mode == --prepare-wheels ]]; then
    mkdir -p "$WHEELS_DIR"
    for wheel in "${WHEELS[@]}"; do
        "$PYTHON" -m pip download --no-deps --only-binary=:all: \
            --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
            -d "$WHEELS_DIR" "$wheel" || exit 1
    done
    du -sh "$WHEELS_DIR"
    exit 0
fi

cd "$REPO"
LOG=$RESULTS/gpu_check.log
SUMMARY=$RESULTS/summary.md
WORK=${TMPDIR:-/tmp}/pafu_acda_mm_gpu_check
started=$SECONDS
failures=0

record() {  # record NAME RESULT SECONDS
    echo "| $1 | $2 | $3 |" >>"$SUMMARY"
    echo "== $1: $2 (${3}s)" | tee -a "$LOG"
}

# step NAME TIMEOUT_S COMMAND...: run COMMAND with a time limit (at most
# what is left of the budget), its output in the log (in a dry run, list it).
step() {
    local name=$1 limit=$2 left=$((BUDGET_S - (SECONDS - started)))
    shift 2
    if [[ $mode == --dry-run ]]; then
        echo "$name (limit ${limit}s): $*"
        return
    fi
    if (( left <= 0 )); then
        record "$name" "skipped: the check's ${BUDGET_S}s budget is spent" 0
        return
    fi
    (( limit > left )) && limit=$left
    echo "== $name: $*" >>"$LOG"
    local begin=$SECONDS status
    timeout "$limit" "$@" >>"$LOG" 2>&1
    status=$?
    if (( status == 0 )); then
        record "$name" passed $((SECONDS - begin))
    elif (( status == 124 )); then
        record "$name" "failed: over its ${limit}s limit" $((SECONDS - begin))
        failures=$((failures + 1))
    else
        record "$name" "failed (exit $status)" $((SECONDS - begin))
        failures=$((failures + 1))
    fi
}

skip() {  # skip NAME REASON
    if [[ $mode == --dry-run ]]; then
        echo "$1: $2"
    else
        record "$1" "skipped: $2" 0
    fi
}

if [[ $mode == run ]]; then
    rm -rf "$WORK"
    mkdir -p "$RESULTS" "$WORK"
    : >"$LOG"
    {
        echo "# GPU check"
        echo
        echo "| step | result | seconds |"
        echo "|---|---|---|"
    } >"$SUMMARY"
    if ! compgen -G "$WHEELS_DIR/*.whl" >/dev/null; then
        echo "no wheels in $WHEELS_DIR: run $0 --prepare-wheels where pip" \
             "reaches the package index, and carry .whl" >&2
        exit 1
    fi
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$WORK/site" "$WHEELS_DIR"/*.whl \
        >>"$LOG" 2>&1 || { echo "installing the wheels failed: $LOG" >&2; exit 1; }
    export PYTHONPATH=$WORK/site:$REPO
    export PYTHON_BIN=$PYTHON
    if ! "$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
        echo "CUDA is not available to $PYTHON" >&2
        exit 1
    fi
fi

pytest=("$PYTHON" -m pytest -q -p no:cacheprovider -m 'not e2e')
read -r -d '' environment_check <<'EOF'
import sys

import numpy
import torch
import triton

import pafu_acda_mm.layers

print('Python', sys.version.split()[0], 'torch', torch.__version__, 'triton',
      triton.__version__, 'numpy', numpy.__version__)
print(torch.cuda.get_device_name())
heavy = [name for name in ('mmcv.ops', 'mmseg', 'mmpretrain', 'mmagic')
         if name in sys.modules]
assert not heavy, f'pafu_acda_mm.layers imported {heavy}'
print('pafu_acda_mm.layers imports without compiled mmcv ops or codebases')
EOF
step nvidia-smi 30 nvidia-smi
step environment 60 "$PYTHON" -c "$environment_check"
step "ops tests (Triton kernels on CUDA)" 300 "${pytest[@]}" tests/ops
step "layers on CUDA" 240 "${pytest[@]}" tests/layers/test_layers_on_cuda.py \
    -k 'not never_waits'
step "no host sync in a training step" 90 "${pytest[@]}" \
    tests/layers/test_layers_on_cuda.py -k never_waits
step "layer benchmark" 240 "$PYTHON" tools/analysis/benchmark_layers.py \
    --device cuda --shapes p64 p512 a256 a128 --dtypes fp32 bf16 \
    --repeats 20 --markdown "$RESULTS/benchmark_layers_cuda.md"
step "ACDA compiled benchmark" 240 "$PYTHON" tools/analysis/benchmark_layers.py \
    --device cuda --shapes a256 a128 --dtypes bf16 fp32 --compile \
    --repeats 20 --markdown "$RESULTS/benchmark_acda_compiled_cuda.md"
step "toy PAFU AMP training" 120 "$PYTHON" tools/train.py "$TOY_CONFIG" \
    --amp --work-dir "$WORK/toy_amp" --cfg-options "${TOY_OPTIONS[@]}"
step "toy PAFU dist_train.sh, 1 GPU" 120 bash tools/dist_train.sh \
    "$TOY_CONFIG" 1 --amp --work-dir "$WORK/toy_dist" --cfg-options \
    "${TOY_OPTIONS[@]}" env_cfg.dist_cfg.backend=nccl
for codebase in mmpretrain mmseg mmagic; do
    if [[ $mode == run ]] && ! "$PYTHON" -c "import $codebase.models" \
        >/dev/null 2>&1; then
        skip "$codebase AMP train + test" "$codebase does not import here"
        continue
    fi
    step "$codebase AMP train + test" 180 env PAFU_ACDA_MM_E2E_TRAIN_ARGS=--amp \
        "$PYTHON" -m pytest -q -p no:cacheprovider -m oldest_torch \
        "tests/$codebase"
done

if [[ $mode == run ]]; then
    echo >>"$SUMMARY"
    echo "$((SECONDS - started)) s in all; log: gpu_check.log" >>"$SUMMARY"
    cat "$SUMMARY"
    rm -rf "$WORK"
fi
exit $((failures > 0))
