#!/usr/bin/env bash
# Train the two default models shipped in models/, three seeds each, and record the
# seed spread in the shipped model's card. Usage:
#   scripts/train_default_models.sh [ner|pos|all] [SEEDS...]
# Each seed is one `tagger train` command (printed in its card); the seeds run as
# separate processes, one torch thread each, so two run side by side on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/datasets}
RUNS=${RUNS:-runs}
TAGGER=${TAGGER:-.venv/bin/tagger}
what=${1:-all}; shift || true
seeds=("${@:-1 2 3}")
read -r -a seeds <<<"${seeds[*]}"
mkdir -p "$RUNS"

ner() {  # English NER, CoNLL-2003, GloVe 6B 50d
  "$TAGGER" train --quiet --threads 1 --seed "$1" \
    --train "$DATA/conll2003/train.txt" --dev "$DATA/conll2003/valid.txt" \
    --embeddings "$DATA/glove/glove.6B.50d.top200k.txt.gz" \
    --licence "CoNLL-2003 (Reuters RCV1): research use only; GloVe 6B: PDDL 1.0" \
    --epochs 25 --patience 6 --output "$RUNS/ner-en-conll03-seed$1"
}

pos() {  # English UPOS, UD English EWT r2.16, GloVe 6B 50d
  "$TAGGER" train --quiet --threads 1 --seed "$1" --format conllu --tag-field upos \
    --train "$DATA/ud_english_ewt/en_ewt-ud-train.conllu" --dev "$DATA/ud_english_ewt/en_ewt-ud-dev.conllu" \
    --embeddings "$DATA/glove/glove.6B.50d.top200k.txt.gz" \
    --licence "UD English EWT: CC BY-SA 4.0; GloVe 6B: PDDL 1.0" \
    --head crf --dropout 0.33 --char-encoder lstm --epochs 25 --patience 5 --output "$RUNS/pos-en-ewt-seed$1"
}

for task in ner pos; do
  if [[ $what == all || $what == "$task" ]]; then
    for seed in "${seeds[@]}"; do "$task" "$seed" > "$RUNS/$task-seed$seed.log" 2>&1; done
  fi
done
# Ship the first seed; the others give the spread in its card.
for task in ner pos; do
  name=$([[ $task == ner ]] && echo ner-en-conll03 || echo pos-en-ewt)
  if [[ $what == all || $what == "$task" ]]; then
    .venv/bin/python scripts/collect_seeds.py "$RUNS/$name-seed${seeds[0]}" "models/$name" "$RUNS"/"$name"-seed*
  fi
done
