#!/usr/bin/env bash
# Create (or reuse) one of the project's Python environments and link it.
#
#   tools/setup_env.sh            torch 2.13 (requirements/lock.txt)        -> .venv
#   tools/setup_env.sh torch2.1   torch 2.1.2 (requirements/lock-torch2.1.txt) -> .venv-torch2.1
#
# An environment lives outside the clone, in a cache directory keyed by the
# hash of its lock file, setup.py and this script's recipe version, so every
# clone on a machine shares it and a second run finishes in seconds. First run:
# a few minutes with a cached mmcv wheel, ~20 min more compiling mmcv 2.1.0's
# ops from source (no wheel exists for torch 2.13), plus torch's CUDA runtime
# wheels (~4.5 GB for 2.13, ~2.5 GB for 2.1).
#
# Environment variables:
#   PAFU_ACDA_MM_CACHE  parent directory of environments (default ~/.cache/pafu_acda_mm)
#   PYTHON              interpreter to build the venv from (default python3.11)
#   FORCE_CUDA=1        build mmcv's CUDA ops (needs nvcc); default CPU ops only
#   MAX_JOBS            parallel compile jobs for mmcv (default: nproc)
#   MMCV_WHEEL_DIR      folder of prebuilt mmcv wheels for torch 2.13, with the
#                       torch 2.1 ones in its torch2.1/ (default ../shared/wheels)
#   PIP_INDEX_URL       honoured, for mirrors
#
# pip's config files and PIP_FIND_LINKS are ignored on purpose: a local CPU-only
# torch wheel (torch 2.13.0+cpu sorts above 2.13.0) breaks torchvision's ops, and
# with them mmpretrain and mmagic.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wheel_root=${MMCV_WHEEL_DIR:-$repo/../shared/wheels}
case "${1:-main}" in
  main)     lock="$repo/requirements/lock.txt"; link="$repo/.venv"
            wheel_dir="$wheel_root" ;;
  torch2.1) lock="$repo/requirements/lock-torch2.1.txt"; link="$repo/.venv-torch2.1"
            wheel_dir="$wheel_root/torch2.1" ;;
  *) echo "usage: $0 [main|torch2.1]" >&2; exit 2 ;;
esac
python_bin=${PYTHON:-python3.11}
# Bump when the build recipe below changes what ends up in the environment.
recipe_version=1
key=$( (cat "$lock" "$repo/setup.py" "$repo/pyproject.toml"; echo "$recipe_version") | sha256sum | cut -c1-12)
cache="${PAFU_ACDA_MM_CACHE:-$HOME/.cache/pafu_acda_mm}"
env_dir="$cache/env-$key"
stamp="$env_dir/.complete"

export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

log() { printf '[setup_env] %s\n' "$*" >&2; }

# A link to the whole env (not just bin/) so python finds its pyvenv.cfg.
link_venv() {
  [[ -L "$link" || ! -e "$link" ]] || rm -rf "$link"
  ln -sfn "$env_dir" "$link"
}

# The env may have been built from another clone: point the editable install here.
ensure_editable() {
  local where
  where=$("$env_dir/bin/python" -c 'import os, pafu_acda_mm; print(os.path.dirname(os.path.dirname(os.path.abspath(pafu_acda_mm.__file__))))' 2>/dev/null || true)
  if [[ "$where" != "$repo" ]]; then
    log "pip install -e $repo"
    "$env_dir/bin/pip" install -q --no-deps --no-build-isolation -e "$repo"
  fi
}

# Serialise concurrent runs (two clones set up at once share one env).
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [[ -f "$stamp" ]]; then
  link_venv
  ensure_editable
  log "environment ready: $env_dir"
  exit 0
fi

log "building environment in $env_dir from $(basename "$lock") (first run: minutes; ~20-40 min more to compile mmcv)"
rm -rf "$env_dir"
"$python_bin" -m venv "$env_dir"
pip=("$env_dir/bin/pip" install -c "$lock")

"${pip[@]}" setuptools wheel ninja
"${pip[@]}" torch torchvision

# mmcv's compiled ops bind to one torch: its wheels are cached per torch
# version, never in pip's own cache (keyed by the sdist alone, it would hand
# the wheel built against one torch to the other environment).
torch_version=$("$env_dir/bin/python" -c 'import torch; print(torch.__version__)')
built_wheels="$cache/mmcv-wheels/torch-$torch_version-cuda${FORCE_CUDA:-0}"
mkdir -p "$built_wheels"
mmcv_links=(--find-links "$built_wheels")
if [[ "${FORCE_CUDA:-0}" != 1 && -d "$wheel_dir" ]]; then
  mmcv_links+=(--find-links "$wheel_dir")
fi
if ! "${pip[@]}" --no-deps --no-index "${mmcv_links[@]}" mmcv==2.1.0 2>/dev/null; then
  log "mmcv: building 2.1.0 with ops against torch $torch_version (FORCE_CUDA=${FORCE_CUDA:-0}; ~15-40 min)"
  MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "$env_dir/bin/pip" wheel --no-deps --no-build-isolation --no-cache-dir \
    -c "$lock" -w "$built_wheels" mmcv==2.1.0
  "${pip[@]}" --no-deps --no-index --find-links "$built_wheels" mmcv==2.1.0
fi

"${pip[@]}" --no-build-isolation -e "$repo[all,deploy,tests]"
# mmdeploy 1.3.1 (tests/tools/test_mmdeploy.py) pins protobuf<=3.20.2, which
# the locked onnx and onnxruntime outgrew; its export runs with them, so it
# comes without its declared dependencies, as docs/tools.md tells users.
"${pip[@]}" --no-deps mmdeploy aenum dill multiprocess six terminaltables

"$env_dir/bin/python" - <<'PY'
import torch, torchvision, mmcv.ops  # noqa: F401  fail loudly on a broken build
assert '+cpu' not in torch.__version__, f'torch {torch.__version__}: CPU-only build breaks torchvision'
PY
touch "$stamp"
link_venv
log "environment ready: $env_dir"
