#!/usr/bin/env bash
# CI checks of terraform/ and the images that need a tool rather than Go:
#   1. `terraform fmt -check -recursive terraform/` with Terraform 1.5.7, built from the module
#      proxy with `go install` into a temporary directory (minutes on a cold Go build cache,
#      seconds on a warm one).
#   2. `bash -n` on every shell script under terraform/ and images/.
#   3. When an AWS provider is available from a filesystem mirror — TF_PLUGIN_MIRROR names a
#      directory holding registry.terraform.io/hashicorp/aws, or TF_CLI_CONFIG_FILE names a
#      CLI config with a filesystem_mirror — `terraform init -backend=false` and
#      `terraform validate` on the module and its examples (Terraform 1.5.7), then
#      `terraform test` (mock_provider, so Terraform >= 1.7 or OpenTofu >= 1.8: TF_TEST_BIN,
#      else `terraform` or `tofu` on PATH when new enough). Otherwise a printed notice.
# The Go checks (go test ./terraform/...) run with the rest of the tests.
# Usage: terraform/check.sh   (from anywhere; nothing leaves the machine but the module proxy)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
# A CLI config that does not exist only produces warnings: ignore it.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  unset TF_CLI_CONFIG_FILE
fi

tf_version=1.5.7
# Terraform goes into a temporary directory; the Go build cache makes later builds quick.
tfdir=$(mktemp -d)
work=""
cleanup() { rm -rf "$tfdir" ${work:+"$work"}; }
trap cleanup EXIT
echo "check.sh: go install github.com/hashicorp/terraform@v$tf_version (a few minutes on a cold Go build cache)"
GOBIN=$tfdir GOFLAGS=-mod=mod go install "github.com/hashicorp/terraform@v$tf_version"
tf=$tfdir/terraform
"$tf" version | head -1

echo "check.sh: terraform fmt -check -recursive terraform/"
if ! "$tf" fmt -check -recursive -diff terraform/; then
  echo "check.sh: run: terraform fmt -recursive terraform/   (Terraform $tf_version)" >&2
  exit 1
fi

echo "check.sh: bash -n on shell scripts"
while IFS= read -r script; do
  bash -n "$script"
done < <(find terraform images -name '*.sh' -not -path '*/.terraform/*' | sort)

# --- validate and test, when an AWS provider can be installed without the registry.
init_args=()
if [ -n "${TF_PLUGIN_MIRROR:-}" ] && [ -d "$TF_PLUGIN_MIRROR/registry.terraform.io/hashicorp/aws" ]; then
  init_args=(-plugin-dir="$TF_PLUGIN_MIRROR")
elif [ -n "${TF_CLI_CONFIG_FILE:-}" ] && grep -q filesystem_mirror "$TF_CLI_CONFIG_FILE"; then
  init_args=()
else
  echo "check.sh: NOTICE: terraform validate and terraform test SKIPPED: no AWS provider mirror."
  echo "check.sh: NOTICE: set TF_PLUGIN_MIRROR to a directory holding registry.terraform.io/hashicorp/aws"
  echo "check.sh: NOTICE: (or TF_CLI_CONFIG_FILE to a CLI config with a filesystem_mirror) to run them."
  echo "check.sh: ok"
  exit 0
fi

work=$(mktemp -d)
# Work on a copy: init writes .terraform and lock files we do not want in the tree.
cp -r terraform/modules "$work/"
module=$work/modules/aws-fleet

quiet_init() { # dir, terraform binary
  local out
  if ! out=$(cd "$1" && "$2" init -backend=false -input=false -no-color "${init_args[@]}" 2>&1); then
    echo "$out" >&2
    return 1
  fi
}

for dir in "$module" "$module/examples/gitlab" "$module/examples/github"; do
  echo "check.sh: terraform validate ${dir#"$work"/}"
  quiet_init "$dir" "$tf"
  (cd "$dir" && "$tf" validate -no-color)
done

# terraform test with mock_provider needs Terraform >= 1.7 or OpenTofu >= 1.8.
new_enough() { # binary -> 0 when it can run mock_provider tests
  local v
  v=$("$1" version 2>/dev/null | head -1) || return 1
  case "$v" in
  "Terraform v"*) v=${v#Terraform v}; min=7 ;;
  "OpenTofu v"*) v=${v#OpenTofu v}; min=8 ;;
  *) return 1 ;;
  esac
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge "$min" ]; }
}
tester=${TF_TEST_BIN:-}
if [ -z "$tester" ]; then
  for cand in terraform tofu; do
    if command -v "$cand" >/dev/null && new_enough "$(command -v "$cand")"; then
      tester=$(command -v "$cand")
      break
    fi
  done
fi
if [ -z "$tester" ] || ! new_enough "$tester"; then
  echo "check.sh: NOTICE: terraform test SKIPPED: mock_provider needs Terraform >= 1.7 or OpenTofu >= 1.8 (set TF_TEST_BIN)"
  echo "check.sh: ok"
  exit 0
fi
echo "check.sh: $("$tester" version | head -1) test (modules/aws-fleet/tests)"
rm -rf "$module/.terraform" "$module/.terraform.lock.hcl"
quiet_init "$module" "$tester"
(cd "$module" && "$tester" test -no-color)
echo "check.sh: ok"
