# Shared by the bench scripts, sourced (not run) after `set -euo pipefail`: the
# preamble every one of them had (where the repository and the data are, which input)
# and the --help they answer with their own header comment.
#
# bench_setup SIZE "$@": prints the calling script's header and exits for -h/--help;
# else moves to the repository root and sets root, data (BENCH_DATA, default
# bench/data) and input: the first argument (made absolute), or the corpus of SIZE
# (256M, 1G, 4G) that bench/corpus.sh builds there (once: it is kept for the next run).

bench_setup() {
  local size=$1
  shift
  case "${1:-}" in
    -h | --help)
      # The comment block under the shebang, without its leading "# ".
      sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
      exit 0
      ;;
  esac
  # Named from where the script was started, before moving to the root.
  input=${1:-}
  [ -z "$input" ] || input=$(realpath -e -- "$input")
  cd "$(dirname "$0")/.."
  root=$PWD
  data=${BENCH_DATA:-$root/bench/data}
  mkdir -p "$data"
  if [ -z "$input" ]; then
    input=$data/corpus-$(echo "$size" | tr '[:upper:]' '[:lower:]')
    bash "$root/bench/corpus.sh" "$input" "$size" >/dev/null
  fi
}

# Exits with a hint unless pigz is installed: the scripts that compare against it.
bench_need_pigz() {
  command -v pigz >/dev/null || { echo "bench: pigz is needed (apt-get install pigz)" >&2; exit 1; }
}
