#!/usr/bin/env bash
# The GPU check (see bench/gpu_check.py): CUDA-marked tests, then the 1.3B geometry at 832x480 in
# bf16 per memory policy; one JSON in bench/results/. Stopped after 8 minutes whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
exec timeout 480 python bench/gpu_check.py "$@"
