#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (a lent GPU machine: torch there, descend
# from this tree, real MNIST copied beside it into .gpudata/mnist). Logs go to $OUT.
#   bash benchmarks/gpu_checks.sh          # tests, recipe, lockstep, step times, profile
#   bash benchmarks/gpu_checks.sh tests profile   # only those parts
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
PARTS=${*:-"tests recipe steps profile"}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD/benchmarks" PYTHONUNBUFFERED=1 DESCEND_DATA="$PWD/.gpudata"
export DESCEND_STORE=/tmp/descend-gpu.sqlite
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())"
} 2>&1 | tee "$OUT/device.log"
case " $PARTS " in *" tests "*)
  python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_cuda.py \
    "tests/engine/test_data_engine.py::test_a_group_on_cuda_equals_the_same_group_on_the_cpu" \
    2>&1 | tail -30 | tee "$OUT/cuda_tests.log";;
esac
case " $PARTS " in *" recipe "*)
  python3 benchmarks/gpu_recipe.py --data-dir "$DESCEND_DATA" 2>&1 | tee "$OUT/gpu_recipe.log";;
esac
case " $PARTS " in *" steps "*)
  python3 benchmarks/optimizer_step.py --device cuda --rounds 5 2>&1 | tail -25 \
    | tee "$OUT/optimizer_step_cuda.log";;
esac
case " $PARTS " in *" profile "*)
  python3 benchmarks/gpu_profile.py 2>&1 | tee "$OUT/gpu_profile.log";;
esac
