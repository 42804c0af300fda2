#!/usr/bin/env bash
# Create (or reuse) the project's Python environment and link it as ./.venv.
#
# The environment lives outside the clone, in a cache directory keyed by the hash
# of requirements/lock.txt and this script, so every clone on a machine shares it
# and a second run finishes in seconds. First run: ~20-30 min, most of it
# compiling mmcv 2.1.0's ops (no wheel exists for torch 2.13) and downloading
# torch's CUDA runtime wheels (~4.5 GB).
#
# Environment variables:
#   PAFU_ACDA_MM_CACHE  parent directory of environments (default ~/.cache/pafu_acda_mm)
#   PYTHON              interpreter to build the venv from (default python3.11)
#   FORCE_CUDA=1        build mmcv's CUDA ops (needs nvcc); default CPU ops only
#   MAX_JOBS            parallel compile jobs for mmcv (default: nproc)
#   MMCV_WHEEL_DIR      folder searched for a prebuilt mmcv wheel (default ../shared/wheels)
#   PIP_INDEX_URL       honoured, for mirrors
#
# pip's config files and PIP_FIND_LINKS are ignored on purpose: a local CPU-only
# torch wheel (torch 2.13.0+cpu sorts above 2.13.0) breaks torchvision's ops, and
# with them mmpretrain and mmagic.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$repo/requirements/lock.txt"
python_bin=${PYTHON:-python3.11}
# Bump when the build recipe below changes what ends up in the environment.
recipe_version=1
key=$( (cat "$lock" "$repo/setup.py"; echo "$recipe_version") | sha256sum | cut -c1-12)
cache="${PAFU_ACDA_MM_CACHE:-$HOME/.cache/pafu_acda_mm}"
env_dir="$cache/env-$key"
stamp="$env_dir/.complete"

export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

log() { printf '[setup_env] %s\n' "$*" >&2; }

# A link to the whole env (not just bin/) so python finds its pyvenv.cfg.
link_venv() {
  [[ -L "$repo/.venv" || ! -e "$repo/.venv" ]] || rm -rf "$repo/.venv"
  ln -sfn "$env_dir" "$repo/.venv"
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

log "building environment in $env_dir (first run: ~20-30 min)"
rm -rf "$env_dir"
"$python_bin" -m venv "$env_dir"
pip=("$env_dir/bin/pip" install -c "$lock")

"${pip[@]}" setuptools wheel ninja
"${pip[@]}" torch torchvision

mmcv_links=()
wheel_dir=${MMCV_WHEEL_DIR:-$repo/../shared/wheels}
if [[ "${FORCE_CUDA:-0}" != 1 && -d "$wheel_dir" ]]; then
  mmcv_links=(--find-links "$wheel_dir")
  log "mmcv: using prebuilt wheels in $wheel_dir when they match"
else
  log "mmcv: building 2.1.0 from source with ops (FORCE_CUDA=${FORCE_CUDA:-0}; ~15 min on 2 cores)"
fi
MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-$(nproc)} \
  "${pip[@]}" --no-build-isolation "${mmcv_links[@]}" mmcv==2.1.0

"${pip[@]}" --no-build-isolation -e "$repo[all,tests]"

"$env_dir/bin/python" - <<'PY'
import torch, torchvision, mmcv.ops  # noqa: F401  fail loudly on a broken build
assert '+cpu' not in torch.__version__, f'torch {torch.__version__}: CPU-only build breaks torchvision'
PY
touch "$stamp"
link_venv
log "environment ready: $env_dir"
