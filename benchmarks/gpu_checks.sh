#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (a lent GPU machine: torch there, descend
# from this tree, real MNIST copied beside it into .gpudata/mnist). Logs go to $OUT.
#   bash benchmarks/gpu_checks.sh          # tests, recipe, lockstep, step times, profile
#   bash benchmarks/gpu_checks.sh tests profile   # only those parts
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
PARTS=${*:-"tests recipe steps profile mnist"}
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
case " $PARTS " in *" mnist "*)  # seed 002's recipe on real MNIST, 5 seeds, paired
  python3 - "$OUT" <<'PY' 2>&1 | tail -60 | tee "$OUT/mnist_recipe.log"
import sys, time
import descend
from descend.report import markdown, png_bytes
began = time.perf_counter()
[study] = descend.run("adam-vs-adadelta", overrides={"seeds": 5, "device": "cuda"})
print(f"5 seeds x 2 rules x 5 epochs on real MNIST: {time.perf_counter() - began:.0f} s")
print(markdown(study, study.tables()))
figures = study.figures()
for name in ("evaluations", "layers"):
    if name in figures:
        with open(f"{sys.argv[1]}/{name}.png", "wb") as f:
            f.write(png_bytes(figures[name](), 110))
PY
;;
esac
