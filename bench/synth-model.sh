# The synthetic model (examples/synth.rs) for the bench scripts (sourced, not run): generated
# once into target/bench/synth-<scale>-s<seed> and again only when the generator's source
# changes (its sha256 is kept in .synth-stamp), so the scripts share one copy.

synth_model_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Prints the directory of the model at SCALE and SEED, generating it first when needed.
synth_model() { # scale seed
  local root=$synth_model_root dir stamp
  dir=$root/target/bench/synth-$1-s$2
  stamp=$(sha256sum "$root/examples/synth.rs" | cut -d' ' -f1)
  if [ ! -f "$dir/.synth-stamp" ] || [ "$(cat "$dir/.synth-stamp")" != "$stamp" ]; then
    echo "bench: generating the synthetic model (scale $1, seed $2) into $dir" >&2
    (cd "$root" && cargo build --release -q --example synth)
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    "$root/target/release/examples/synth" --scale "$1" --seed "$2" --out "$dir.tmp.$$" >&2
    mv "$dir.tmp.$$" "$dir"
    echo "$stamp" > "$dir/.synth-stamp"
  else
    echo "bench: using the cached synthetic model $dir" >&2
  fi
  echo "$dir"
}
