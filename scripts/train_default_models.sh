#!/usr/bin/env bash
# Train the two models shipped in models/ the way their cards describe:
#   1. selection runs, three seeds per recipe, on train without its last 10% of
#      documents (the held-out slice nobody tunes on), dev for early stopping;
#   2. a final fit of the chosen recipe on train + dev, for the best epoch of seed 1's
#      selection run (`--final-fit`);
#   3. scripts/collect_seeds.py ships the final fit with every recipe's table in its card.
# Usage: scripts/train_default_models.sh [ner|pos|all]
# Every run is one `tagger train` command (printed in its card) with one torch thread, so
# two run side by side on two cores. NER_CONTEXT / POS_CONTEXT name the shipped recipe's
# document context (chosen on the 3-seed dev means of the selection runs).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/datasets}
RUNS=${RUNS:-runs}
TAGGER=${TAGGER:-.venv/bin/tagger}
NER_CONTEXT=${NER_CONTEXT:-0}
POS_CONTEXT=${POS_CONTEXT:-0}
what=${1:-all}
mkdir -p "$RUNS"
GLOVE="$DATA/glove/glove.6B.50d.top200k.txt.gz"

ner() {  # English NER, CoNLL-2003, GloVe 6B 50d; $1 context, $2 seed, rest: extra flags
  local context=$1 seed=$2; shift 2
  "$TAGGER" train --quiet --threads 1 --seed "$seed" --holdout-share 0.1 --context-sentences "$context" \
    --train "$DATA/conll2003/train.txt" --dev "$DATA/conll2003/valid.txt" --embeddings "$GLOVE" \
    --licence "CoNLL-2003 (Reuters RCV1): research use only; GloVe 6B: PDDL 1.0" "$@"
}

pos() {  # English UPOS, UD English EWT r2.16, GloVe 6B 50d
  local context=$1 seed=$2; shift 2
  "$TAGGER" train --quiet --threads 1 --seed "$seed" --holdout-share 0.1 --context-sentences "$context" \
    --format conllu --tag-field upos --char-encoder lstm --dropout 0.33 \
    --train "$DATA/ud_english_ewt/en_ewt-ud-train.conllu" --dev "$DATA/ud_english_ewt/en_ewt-ud-dev.conllu" \
    --embeddings "$GLOVE" --licence "UD English EWT: CC BY-SA 4.0; GloVe 6B: PDDL 1.0" "$@"
}

ship() {  # $1 task, $2 model name, $3 shipped context
  local task=$1 name=$2 context=$3
  "$task" "$context" 1 --final-fit "$RUNS/$task-ctx$context-seed1" --output "$RUNS/$task-final" \
    > "$RUNS/$task-final.log" 2>&1
  recipes=()
  for c in 0 1; do
    if compgen -G "$RUNS/$task-ctx$c-seed*/metrics.json" > /dev/null; then
      recipes+=(--recipe "stacked, context $c" "$RUNS/$task-ctx$c-seed"[0-9])
    fi
  done
  .venv/bin/python scripts/collect_seeds.py "$RUNS/$task-final" "models/$name" "${recipes[@]}" \
    --recipe "final fit (context $context)" "$RUNS/$task-final"
}

for task in ner pos; do
  if [[ $what == all || $what == "$task" ]]; then
    for context in 0 1; do
      for seed in 1 2 3; do
        "$task" "$context" "$seed" --output "$RUNS/$task-ctx$context-seed$seed" \
          > "$RUNS/$task-ctx$context-seed$seed.log" 2>&1
      done
    done
    context_var=$([[ $task == ner ]] && echo "$NER_CONTEXT" || echo "$POS_CONTEXT")
    ship "$task" "$([[ $task == ner ]] && echo ner-en-conll03 || echo pos-en-ewt)" "$context_var"
  fi
done
