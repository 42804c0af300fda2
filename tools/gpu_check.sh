#!/usr/bin/env bash
# The GPU check (DEVELOPERS.md): on a CUDA machine, first the benchmarks (the
# layers against cuDNN convs in fp32 and bf16 with peak memory; PAFU-ESPCN
# and PSPNet with PAFU-PPM training iterations against their plain twins,
# and PAFU's CUDA formulations side by side; ACDA compiled), then the
# Triton kernels' and the layers' tests, a training step that must not wait
# for the host, a short AMP training and a 1-GPU dist_train.sh run of the toy
# PAFU config, and one e2e train + test per OpenMMLab codebase that imports
# there. The benchmarks come first so that a first run that runs out of time
# still yields timings. Each step has a time limit, cut to what is left of
# the check's budget (GPU_CHECK_BUDGET_S, default 480 s: within the device
# tool's 600 s per command and, with the machine's start-up, its 15 minutes
# a session); steps past the budget are skipped.
#
#   bash tools/gpu_check.sh                   # run the check
#   bash tools/gpu_check.sh --dry-run         # set up, check every step's
#                                             # imports on the CPU, list steps
#   bash tools/gpu_check.sh --prepare-wheels  # fill .whl/ (needs network)
#   bash tools/gpu_check.sh --verify-setup    # --prepare-wheels, then the
#                                             # dry run in a clean venv that
#                                             # holds what the GPU image holds
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
BUDGET_S=${GPU_CHECK_BUDGET_S:-480}
WHEELS_DIR=$REPO/.whl
# mmengine and mmcv-lite (what pafu_acda_mm.layers imports) and their
# pure-Python needs that the GPU image lacks.
WHEELS=(mmengine==0.10.7 mmcv-lite==2.1.0 addict==2.4.0 termcolor==3.3.0
        yapf==0.43.0 platformdirs==4.3.6)
# What the GPU machine's image holds of what the check needs (the device
# tool's KINDS.md): --verify-setup builds a clean venv of exactly these.
IMAGE_PACKAGES=(torch==2.11.0 triton==3.6.0 'numpy>=2' rich pyyaml ninja scipy
                matplotlib opencv-python-headless onnx onnxruntime pytest)
# PAFU's CUDA kernels before the pipelined rewrite (issue 29), timed beside
# today's: --prepare-wheels copies them from git to .whl/baseline_ops (the
# GPU machine gets the working tree without its git history).
BASELINE_REV=${GPU_CHECK_BASELINE_REV:-16647ec}
BASELINE=$WHEELS_DIR/baseline_ops
VERIFY_VENV=${GPU_CHECK_VENV:-$REPO/work_dirs/gpu_check_venv}
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
    run | --dry-run | --prepare-wheels | --verify-setup) ;;
    *) echo "usage: $0 [--dry-run | --prepare-wheels | --verify-setup]" >&2
       exit 2 ;;
esac

if [[ $mode == --prepare-wheels ]]; then
    mkdir -p "$WHEELS_DIR"
    for wheel in "${WHEELS[@]}"; do
        "$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
            --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
            -d "$WHEELS_DIR" "$wheel" || exit 1
    done
    mkdir -p "$BASELINE"
    git -C "$REPO" show \
        "$BASELINE_REV:pafu_acda_mm/ops/selected_conv_cuda.py" \
        >"$BASELINE/selected_conv_cuda.py" &&
        git -C "$REPO" rev-parse --short "$BASELINE_REV" \
        >"$BASELINE/REVISION" || exit 1
    du -sh "$WHEELS_DIR"
    exit 0
fi

if [[ $mode == --verify-setup ]]; then
    # Python 3.12 as the GPU image's: PYTHON312, python3.12, or pyenv's.
    python312=
    for candidate in "${PYTHON312:-}" python3.12 \
        "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
        if [[ -n $candidate ]] && "$candidate" -c \
            'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
            2>/dev/null; then
            python312=$candidate
            break
        fi
    done
    if [[ -z $python312 ]]; then
        echo "no Python 3.12: set PYTHON312" >&2
        exit 1
    fi
    # Rebuilt when the package list changes; reused otherwise (minutes:
    # torch's CUDA wheels).
    recipe="${IMAGE_PACKAGES[*]}"
    built=$(cat "$VERIFY_VENV/image_packages" 2>/dev/null)
    if [[ $built != "$recipe" ]]; then
        echo "building $VERIFY_VENV: ${IMAGE_PACKAGES[*]}"
        rm -rf "$VERIFY_VENV"
        "$python312" -m venv "$VERIFY_VENV" &&
            "$VERIFY_VENV/bin/python" -m pip install -q \
                "${IMAGE_PACKAGES[@]}" ||
            { echo "building $VERIFY_VENV failed" >&2; exit 1; }
        echo "$recipe" >"$VERIFY_VENV/image_packages"
    fi
    PYTHON=$VERIFY_VENV/bin/python "$0" --prepare-wheels || exit 1
    exec env PYTHON="$VERIFY_VENV/bin/python" "$0" --dry-run
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

# run_limited NAME LIMIT_S COMMAND...: run COMMAND with a time limit, its
# output in the log, and record how it went.
run_limited() {
    local name=$1 limit=$2 begin=$SECONDS status
    shift 2
    echo "== $name: $*" >>"$LOG"
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

# step NAME TIMEOUT_S COMMAND...: run COMMAND with a time limit (at most
# what is left of the budget); in a dry run, list it.
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
    run_limited "$name" "$limit" "$@"
}

skip() {  # skip NAME REASON
    if [[ $mode == --dry-run ]]; then
        echo "$1: $2"
    else
        record "$1" "skipped: $2" 0
    fi
}

rm -rf "$WORK"
mkdir -p "$RESULTS" "$WORK"
: >"$LOG"
{
    if [[ $mode == run ]]; then
        echo "# GPU check"
    else
        echo "# GPU check: dry run, on the CPU"
    fi
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
export PYTHONUNBUFFERED=1
has_cuda=$("$PYTHON" -c 'import torch; print(int(torch.cuda.is_available()))')
if [[ $mode == run && $has_cuda != 1 ]]; then
    echo "CUDA is not available to $PYTHON" >&2
    exit 1
fi

pytest=("$PYTHON" -m pytest -q -p no:cacheprovider -m 'not e2e')
read -r -d '' environment_check <<'EOF_PY'
import sys

import numpy
import torch
import triton

import pafu_acda_mm.layers

print('Python', sys.version.split()[0], 'torch', torch.__version__, 'triton',
      triton.__version__, 'numpy', numpy.__version__)
print(torch.cuda.get_device_name() if torch.cuda.is_available() else
      'no CUDA device')
heavy = [name for name in ('mmcv.ops', 'mmseg', 'mmpretrain', 'mmagic')
         if name in sys.modules]
assert not heavy, f'pafu_acda_mm.layers imported {heavy}'
print('pafu_acda_mm.layers imports without compiled mmcv ops or codebases')
EOF_PY
benchmark=("$PYTHON" tools/analysis/benchmark_layers.py --device cuda)
test_files=(tests/ops tests/layers/test_layers_on_cuda.py)

if [[ $mode == --dry-run ]]; then
    # What can be checked without a GPU: the set-up above, the imports of
    # every step, and the toy training on the CPU.
    echo "Set-up checks on the CPU (log: $LOG):"
    run_limited "environment" 120 "$PYTHON" -c "$environment_check"
    # Tiny, and the Triton rows left out (loaded, not run): Triton 3.6's
    # interpreter cannot run the baseline kernels' loops over a runtime
    # channel count.
    run_limited "whole-step and formulations benchmark, tiny on the CPU" 300 \
        "$PYTHON" tools/analysis/benchmark_layers.py --tiny \
        --tables whole-step formulations --baseline "$BASELINE" \
        --shapes p8 --repeats 1 --no-memory
    run_limited "test collection" 180 "${pytest[@]}" --collect-only \
        "${test_files[@]}"
    run_limited "toy PAFU training, 2 iterations on the CPU" 300 \
        "$PYTHON" tools/train.py "$TOY_CONFIG" --work-dir "$WORK/toy_cpu" \
        --cfg-options "${TOY_OPTIONS[@]}" train_cfg.max_iters=2
    echo
    echo "Steps on a GPU (budget ${BUDGET_S}s):"
fi

step nvidia-smi 30 nvidia-smi
step environment 60 "$PYTHON" -c "$environment_check"
step "layer benchmark" 150 "${benchmark[@]}" --shapes p64 p512 a256 a128 \
    --dtypes fp32 bf16 --repeats 20 \
    --markdown "$RESULTS/benchmark_layers_cuda.md"
step "formulations benchmark" 120 "${benchmark[@]}" --tables formulations \
    --baseline "$BASELINE" --shapes p64 p512 --dtypes bf16 fp32 \
    --tf32 off on --repeats 10 \
    --markdown "$RESULTS/benchmark_formulations_cuda.md"
step "whole-step benchmark" 120 "${benchmark[@]}" --tables whole-step \
    --dtypes bf16 fp32 --tf32 off on --repeats 10 \
    --markdown "$RESULTS/benchmark_steps_cuda.md"
# The target's shape and dtype alone: each compiles for tens of seconds.
step "ACDA compiled benchmark" 90 "${benchmark[@]}" --shapes a256 \
    --dtypes bf16 --compile --no-memory --repeats 10 \
    --markdown "$RESULTS/benchmark_acda_compiled_cuda.md"
# The ahead-of-time compile report needs no GPU: make test runs it.
step "ops tests (Triton kernels on CUDA)" 150 "${pytest[@]}" tests/ops \
    --ignore=tests/ops/test_compile_kernels.py
step "layers on CUDA" 120 "${pytest[@]}" tests/layers/test_layers_on_cuda.py \
    -k 'not never_waits'
step "no host sync in a training step" 60 "${pytest[@]}" \
    tests/layers/test_layers_on_cuda.py -k never_waits
step "toy PAFU AMP training" 90 "$PYTHON" tools/train.py "$TOY_CONFIG" \
    --amp --work-dir "$WORK/toy_amp" --cfg-options "${TOY_OPTIONS[@]}"
step "toy PAFU dist_train.sh, 1 GPU" 90 bash tools/dist_train.sh \
    "$TOY_CONFIG" 1 --amp --work-dir "$WORK/toy_dist" --cfg-options \
    "${TOY_OPTIONS[@]}" env_cfg.dist_cfg.backend=nccl
for codebase in mmpretrain mmseg mmagic; do
    if [[ $mode == run ]] && ! "$PYTHON" -c "import $codebase.models" \
        >/dev/null 2>&1; then
        skip "$codebase AMP train + test" "$codebase does not import here"
        continue
    fi
    step "$codebase AMP train + test" 120 env PAFU_ACDA_MM_E2E_TRAIN_ARGS=--amp \
        "$PYTHON" -m pytest -q -p no:cacheprovider -m oldest_torch \
        "tests/$codebase"
done

echo >>"$SUMMARY"
echo "$((SECONDS - started)) s in all; log: gpu_check.log" >>"$SUMMARY"
[[ $mode == run ]] && cat "$SUMMARY"
rm -rf "$WORK"
exit $((failures > 0))
