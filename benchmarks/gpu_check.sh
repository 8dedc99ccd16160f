#!/usr/bin/env bash
# GPU check of issue #13, <= 8 minutes on a machine with one CUDA GPU:
#   1. the tests marked `cuda` (and the device-parametrised STFT tests),
#   2. benchmarks/admm_pr_speed.py on CUDA, torchaudio's GriffinLim on CUDA as the peer,
#      and benchmarks/cp_dequant_dct_speed.py on CUDA,
#   3. 3 epochs of `unfold run admm-pr-paper --device cuda --set train.epochs=3`, timed.
# Everything (JSON, logs, summary.json) goes to $OUT if set, else to ./gpu_check_out.
#
#   bash benchmarks/gpu_check.sh              # on the GPU machine, from the repository root
#   bash benchmarks/gpu_check.sh --cpu-smoke  # the same steps on CPU, tiny sizes (a smoke test)
#
# Environment: PYTHON (default: python3), UNFOLD_CACHE (the corpus cache; the eSpeak corpus is
# built there on first use), TIME_LIMIT_S for step 3 (default 300).
set -uo pipefail

MODE=cuda
if [[ "${1:-}" == "--cpu-smoke" ]]; then MODE=cpu; fi
PY=${PYTHON:-python3}
DEST=${OUT:-gpu_check_out}
LIMIT=${TIME_LIMIT_S:-300}
mkdir -p "$DEST"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG="$DEST/gpu_check.log"
: > "$LOG"
declare -A STATUS SECONDS_TAKEN

step() {  # step NAME COMMAND...: run, log, record exit status and seconds
  local name=$1; shift
  echo "== $name: $*" | tee -a "$LOG"
  local t0; t0=$(date +%s.%N)
  "$@" >> "$LOG" 2>&1
  local rc=$?
  STATUS[$name]=$rc
  SECONDS_TAKEN[$name]=$(echo "$(date +%s.%N) - $t0" | bc)
  echo "   rc=$rc, ${SECONDS_TAKEN[$name]} s" | tee -a "$LOG"
}

if [[ $MODE == cuda ]]; then
  nvidia-smi > "$DEST/nvidia-smi.txt" 2>&1
  "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'" || exit 2
  step tests "$PY" -m pytest -q -m cuda tests/unfold/signal/test_cuda.py \
    tests/unfold_plugins/admm_pr/test_cuda.py tests/unfold/signal/test_stft.py
  step admm_pr_speed "$PY" benchmarks/admm_pr_speed.py --device cuda --iters 20 --repeats 5 \
    --threads 1 --out "$DEST/admm_pr_speed_cuda.json"
  step cp_dequant_dct_speed "$PY" benchmarks/cp_dequant_dct_speed.py --device cuda \
    --frames 4096 --iters 100 --repeats 5 --out "$DEST/cp_dequant_dct_speed_cuda.json"
  RUN_ARGS=(admm-pr-paper --device cuda --set train.epochs=3 --tying untied)
else
  # -m cuda selects the marked tests; without a GPU they skip, which is what a smoke run checks
  step tests "$PY" -m pytest -q -m cuda tests/unfold/signal/test_cuda.py \
    tests/unfold_plugins/admm_pr/test_cuda.py
  step admm_pr_speed "$PY" benchmarks/admm_pr_speed.py --device cpu --iters 2 --repeats 1 \
    --batch 2 --seconds 0.5 --out "$DEST/admm_pr_speed_cpu_smoke.json"
  step cp_dequant_dct_speed "$PY" benchmarks/cp_dequant_dct_speed.py --device cpu \
    --frames 16 --iters 2 --repeats 1 --out "$DEST/cp_dequant_dct_speed_cpu_smoke.json"
  RUN_ARGS=(admm-pr-paper --device cpu --set train.epochs=1 --tying untied
            --set data.n_train=4 --set data.n_valid=2 --set data.n_test=2
            --set data.seconds=0.5 --set eval.reference_iters=[2] --set eval.uadmm_iters=[2]
            --set eval.baseline_iters=2)
fi
step paper_3_epochs timeout "$LIMIT" "$PY" -m unfold.cli run "${RUN_ARGS[@]}" --no-progress \
  --out "$DEST/admm-pr-paper"

# small files of the run (metrics, history, logs) are kept; checkpoints are not
find "$DEST/admm-pr-paper" -name '*.pt' -delete 2>/dev/null

"$PY" - "$DEST" "$MODE" <<PYEOF
import json, sys
dest, mode = sys.argv[1], sys.argv[2]
status = {$(for k in "${!STATUS[@]}"; do printf '"%s": %s, ' "$k" "${STATUS[$k]}"; done)}
seconds = {$(for k in "${!SECONDS_TAKEN[@]}"; do printf '"%s": %s, ' "$k" "${SECONDS_TAKEN[$k]}"; done)}
summary = {"mode": mode, "exit_status": status, "seconds": seconds,
           "paper_run": "admm-pr-paper, untied, " + ("3 epochs on CUDA" if mode == "cuda" else
                                                     "1 tiny epoch on CPU (smoke)")}
json.dump(summary, open(f"{dest}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PYEOF
for k in "${!STATUS[@]}"; do [[ ${STATUS[$k]} == 0 ]] || exit 1; done
