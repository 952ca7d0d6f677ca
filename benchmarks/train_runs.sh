# Sourced by the *_train.sh scripts: train_runs DIR "NAME PRESET [OVERRIDES...]"...
# trains each run into DIR/NAME one after the other (an unfinished run is resumed, a finished one -
# marked DIR/NAME/done - skipped) and appends "NAME rc=CODE seconds=WALL" to DIR/times.txt.
train_runs() {
  local dir=$1 spec name preset start rc
  shift
  mkdir -p "$dir"
  for spec in "$@"; do
    set -- $spec; name=$1; preset=$2; shift 2
    [ -f "$dir/$name/done" ] && continue
    start=$(date +%s)
    if [ -d "$dir/$name/checkpoints" ]; then
      .venv/bin/python -m gankit train --resume "$dir/$name" train.progress=lines > "$dir/$name.log" 2>&1
    else
      .venv/bin/python -m gankit train --preset "$preset" "$@" run.dir="$dir/$name" train.progress=lines \
        > "$dir/$name.log" 2>&1
    fi
    rc=$?
    echo "$name rc=$rc seconds=$(( $(date +%s) - start ))" >> "$dir/times.txt"
    [ $rc = 0 ] && touch "$dir/$name/done"
  done
}
