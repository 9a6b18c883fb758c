#!/usr/bin/env bash
# CI for deploy/kubernetes (.ci/run calls it after the cargo tests built target/release):
#   1. every manifest validates, offline and strictly, against the Kubernetes schemas
#      kubernetes-validate ships, and so does a Secret as the kustomization generates it;
#   2. kustomization.yaml lists every manifest here, and its token file is never committed;
#   3. every flag the manifests pass exists in the binaries' --help (check_flags.py),
#      and the checker itself fails on a flag that does not.
# BIN_DIR overrides where the binaries are (default target/release).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${BIN_DIR:-$repo/target/release}"
# The newest Kubernetes whose schemas kubernetes-validate (pinned in .ci/run) ships.
k8s_version=1.37.0

for b in gzfleet gzfleet-worker; do
  [ -x "$bin/$b" ] || { echo "test.sh: no $bin/$b: build first (cargo build --release --bins)" >&2; exit 1; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

manifests=()
for f in "$here"/*.yaml; do
  # kustomization.yaml is kustomize's configuration, not a Kubernetes object: step 2.
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done

fail() { echo "test.sh: FAIL: $*" >&2; exit 1; }

# 1. Schemas. The proxy that goes nowhere makes any attempt to fetch a schema fail:
# the validation must run from what the package ships.
validate() {
  HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
    kubernetes-validate --strict --quiet -k "$k8s_version" "$@"
}
validate "${manifests[@]}" || fail "a manifest does not validate against Kubernetes $k8s_version"
# What secretGenerator makes of deploy/kubernetes/token (its name gets a hash suffix).
cat > "$tmp/secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: gzfleet-token-7g9k2f5b8m
  namespace: gzfleet
type: Opaque
data:
  token: $(printf '%064d\n' 0 | base64 -w0)
YAML
validate "$tmp/secret.yaml" || fail "the generated Secret does not validate"
# --strict is what catches a misspelt field; make sure it is in force.
sed 's/terminationGracePeriodSeconds:/terminationGracePeriod:/' "$here/worker-deployment.yaml" > "$tmp/misspelt.yaml"
grep -q 'terminationGracePeriod:' "$tmp/misspelt.yaml" || fail "the misspelling fixture did not apply"
if validate "$tmp/misspelt.yaml" >/dev/null 2>&1; then
  fail "a misspelt field passed validation: is --strict in force?"
fi
echo "manifests valid against Kubernetes $k8s_version (strict): ${#manifests[@]} files and the generated Secret"

# 2. The kustomization.
python3 - "$here" "$repo" <<'PY'
import os, subprocess, sys, yaml
here, repo = sys.argv[1], sys.argv[2]
k = yaml.safe_load(open(os.path.join(here, "kustomization.yaml")))
listed = set(k.get("resources") or [])
present = {f for f in os.listdir(here) if f.endswith(".yaml") and f != "kustomization.yaml"}
errors = [f"kustomization.yaml lists {f}, which does not exist" for f in sorted(listed - present)]
errors += [f"{f} is not in kustomization.yaml's resources" for f in sorted(present - listed)]
for gen in k.get("secretGenerator") or []:
    for f in gen.get("files") or []:
        path = os.path.join(here, f.split("=", 1)[-1])
        rel = os.path.relpath(path, repo)
        if subprocess.run(["git", "-C", repo, "check-ignore", "-q", "--no-index", rel]).returncode != 0:
            errors.append(f"{rel} (secret {gen['name']}) is not in .gitignore")
        if subprocess.run(["git", "-C", repo, "ls-files", "--error-unmatch", rel],
                          capture_output=True).returncode == 0:
            errors.append(f"{rel} (secret {gen['name']}) is committed")
for e in errors:
    print("test.sh: FAIL:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "kustomization lists every manifest; its token file is ignored and untracked"

# 3. Flags. The real manifests pass...
python3 "$here/check_flags.py" "$bin" "${manifests[@]}" || fail "a manifest passes a flag the binaries do not have"

# ...and the checker is not a rubber stamp: a manifest naming a flag the binary lacks
# fails, naming it,
expect_missing() { # FLAG BIN_DIR MANIFEST
  local out
  if out="$(python3 "$here/check_flags.py" "$2" "$3" 2>&1)"; then
    fail "check_flags.py passed $3, which passes $1"
  fi
  grep -qF -- "has no flag $1" <<<"$out" || fail "check_flags.py failed without naming $1: $out"
  echo "check_flags.py rejects $1 ($(basename "$3")): $out"
}
expect_missing --shared-dir "$bin" "$here/testdata/missing-flag.yaml"
# and so does a flag renamed in the binary but not in the manifests: here a worker whose
# --help calls --root --root-dir.
mkdir "$tmp/bin"
ln -s "$bin/gzfleet" "$tmp/bin/gzfleet"
cat > "$tmp/bin/gzfleet-worker" <<SH
#!/usr/bin/env bash
set -euo pipefail
"$bin/gzfleet-worker" "\$@" | sed 's/--root </--root-dir </'
SH
chmod +x "$tmp/bin/gzfleet-worker"
# Not grep -q: it would stop reading at the match, and the wrapper writing the rest of a
# help longer than one pipe write would die of SIGPIPE, failing the pipeline.
"$tmp/bin/gzfleet-worker" --help | grep -- '--root-dir <' >/dev/null || fail "the renaming wrapper did not rename --root"
expect_missing --root "$tmp/bin" "$here/worker-deployment.yaml"
echo "deploy/kubernetes: all checks passed"
