#!/usr/bin/env bash
# One prepared GPU session (device machine: 1 GPU, 16 cores, Python 3.12 with torch; pydicom and
# kornia carried as wheels in .whl/). Everything it measures or trains lands in $OUT:
#   gpu_session.log       every step's output (torchrun check, GPU tests, benchmarks, training)
#   train_throughput.json benchmarks/train_throughput.py on this GPU
#   tta.json              time to accuracy of the training run below
#   run.tar               the trained run (config.json, best/last weights, log.jsonl, split.json)
#   predict_gpu.txt       apn predict on full-size DICOMs on this GPU (and the decode-only rate)
# The training run is the shipped model's: every synthetic style family except the held-out
# one (HELDOUT), validation on new seeds of the same families.
set -uo pipefail
HELDOUT=${HELDOUT:-cr-film}
N_TRAIN=${N_TRAIN:-3000}
N_VAL=${N_VAL:-300}
TRAIN_S=${TRAIN_S:-240}            # seconds of training (the schedule is sized to fit)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_session.log") 2>&1
t0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }

stamp "install carried wheels"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD:$PWD/src_core PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())"
APN="python3 -m apn_core"

stamp "render training data in the background (all families but $HELDOUT)"
( $APN synth /tmp/train -n "$N_TRAIN" --seed 1000 --spacing 0.5 --exclude-family "$HELDOUT" --workers 13 >/tmp/synth_train.log 2>&1
  $APN synth /tmp/val -n "$N_VAL" --seed 2000 --spacing 0.5 --exclude-family "$HELDOUT" --workers 13 >/tmp/synth_val.log 2>&1
  echo rendered > /tmp/rendered
  $APN synth /tmp/full -n 48 --seed 7 --spacing 0.143 --families dr-clinic --formats dicom --workers 8 >/dev/null 2>&1
  echo rendered > /tmp/rendered_full ) &

if [ -z "${SKIP_TORCHRUN:-}" ]; then
stamp "torchrun --nproc_per_node=1 on cuda (issue 9.1)"
$APN synth /tmp/smoke -n 6 --seed 3 --spacing 2.0 --workers 2 >/dev/null
timeout 150 torchrun --standalone --nproc_per_node=1 -m apn_core train /tmp/smoke --out /tmp/smoke_run \
  --preset tiny --epochs-pretrain 2 --epochs-adversarial 1 --device cuda --workers 0 --progress json \
  | tail -3; echo "torchrun exit: ${PIPESTATUS[0]}"
fi

stamp "GPU tests"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/core/test_train_gpu.py 2>&1 | tail -5

stamp "training throughput"
timeout 150 python3 benchmarks/train_throughput.py --device cuda --budget-s "${THROUGHPUT_S:-80}" \
  ${THROUGHPUT_RUNS:+--runs $THROUGHPUT_RUNS} --json "$OUT/train_throughput.json"

stamp "waiting for the rendering"
while [ ! -f /tmp/rendered ]; do sleep 2; done
tail -n 2 /tmp/synth_train.log /tmp/synth_val.log

# Size the schedule to TRAIN_S from the measured default:64 throughput (images per epoch =
# training images / batch_size 8 steps × 64): pre-training 2/3 of the time, adversarial 1/3.
read -r PRE ADV < <(python3 - "$OUT/train_throughput.json" "$N_TRAIN" "$TRAIN_S" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
n, budget = int(sys.argv[2]), 0.85 * float(sys.argv[3])  # caching and validation take the rest
pre, adv = 1000.0, 500.0
for r in rows:
    if r.get("preset") == "default" and str(r.get("batch")) == "64" and not r.get("compile"):
        pre, adv = float(r.get("pretrain_img_s") or pre), float(r.get("adversarial_img_s") or adv)
per_epoch = n / 8 * 64
e_pre = max(2, int(budget * 2 / 3 * pre / per_epoch))
e_adv = max(1, int(budget / 3 * adv / per_epoch))
print(e_pre, e_adv)
PY
)
stamp "train the shipped model: $PRE + $ADV epochs, batch 64 (measured speed), held out: $HELDOUT"
timeout 360 python3 benchmarks/time_to_accuracy.py /tmp/train /tmp/val --device cuda \
  --minutes $(( TRAIN_S / 60 + 1 )) --workers 13 --out /tmp/run --json "$OUT/tta.json" -- \
  --epochs-pretrain "$PRE" --epochs-adversarial "$ADV" --set train.gpu_batch_size=64
tar -C /tmp/run -cf "$OUT/run.tar" --exclude=cache .
ls -la /tmp/run

stamp "apn predict on full-size DICOMs with the GPU"
if [ $(( $(date +%s) - t0 )) -gt 530 ] || [ ! -f /tmp/rendered_full ]; then
  stamp "skipped: out of time or full-size images not rendered"; exit 0
fi
{
  python3 - <<'PY'
import glob, time
import pydicom
files = sorted(glob.glob("/tmp/full/*.dcm"))
t = time.perf_counter()
for f in files:
    pydicom.dcmread(f).pixel_array
print(f"decode only (pydicom, 1 process): {len(files) / (time.perf_counter() - t):.1f} radiographs/s")
PY
  for w in 14; do
    rm -rf /tmp/pred; t=$(date +%s.%N)
    $APN predict /tmp/full --out /tmp/pred --device cuda --workers $w --batch-size 16 --model /tmp/run | tail -1
    echo "workers $w: $(python3 -c "print(f'{48 / ($(date +%s.%N) - $t):.1f} radiographs/s end to end')")"
  done
} 2>&1 | tee "$OUT/predict_gpu.txt"
stamp "done"
