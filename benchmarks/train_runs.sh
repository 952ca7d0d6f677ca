# Sourced by the *_train.sh scripts: train_runs DIR "NAME PRESET [OVERRIDES...]"...
# trains each run into DIR/NAME one after the other (an unfinished run is resumed, a finished one -
# marked DIR/NAME/done - skipped) and appends "NAME rc=CODE seconds=WALL" to DIR/times.txt. A resumed run
# whose config has train.max_minutes gets what is left of it after the seconds its earlier parts recorded.
train_runs() {
  local dir=$1 spec name preset start rc
  shift
  mkdir -p "$dir"
  for spec in "$@"; do
    set -- $spec; name=$1; preset=$2; shift 2
    [ -f "$dir/$name/done" ] && continue
    start=$(date +%s)
    if [ -d "$dir/$name/checkpoints" ]; then
      .venv/bin/python -m gankit train --resume "$dir/$name" train.progress=lines $(left_minutes "$dir" "$name") \
        >> "$dir/$name.log" 2>&1
    else
      .venv/bin/python -m gankit train --preset "$preset" "$@" run.dir="$dir/$name" train.progress=lines \
        > "$dir/$name.log" 2>&1
    fi
    rc=$?
    echo "$name rc=$rc seconds=$(( $(date +%s) - start ))" >> "$dir/times.txt"
    [ $rc = 0 ] && touch "$dir/$name/done"
  done
}

# left_minutes DIR NAME: "train.max_minutes=M" with M = the run's budget (from the config it started with:
# config.yaml holds the last resume's) minus its recorded parts (nothing when the run has no budget).
left_minutes() {
  .venv/bin/python - "$1" "$2" <<'PY'
import re, sys, yaml
from pathlib import Path
root, name = Path(sys.argv[1]), sys.argv[2]
first = root / name / "configs" / "step-00000000.yaml"
start = first if first.is_file() else root / name / "config.yaml"
budget = (yaml.safe_load(start.read_text()).get("train") or {}).get("max_minutes")
times = root / "times.txt"
spent = sum(int(m.group(1)) for line in (times.read_text().splitlines() if times.is_file() else [])
            if line.split(" ")[0] == name and (m := re.search(r"seconds=(\d+)", line)))
if budget is not None:
    print(f"train.max_minutes={max(budget - spent / 60, 0.01):.2f}")
PY
}
