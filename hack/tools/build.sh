#!/usr/bin/env bash
# Builds the local platform's tools into BIN from their pinned Go modules:
# the Kubernetes control plane and kubectl and etcd (this module's go.mod),
# the Argo Rollouts controller and kubectl plugin (ARGO_ROLLOUTS_VERSION) and
# Prometheus (PROMETHEUS_VERSION) and Traefik (TRAEFIK_VERSION), each built inside its own module in the
# module cache so that its go.mod (and Argo's replace directives) apply
# unchanged. Each binary is rebuilt only when missing or of another version;
# go's build cache makes a rebuild cheap.
#
# usage: build.sh BIN [tool ...]   (default: all tools)
set -euo pipefail

bin=$(realpath -m "$1"); shift
here=$(cd "$(dirname "$0")" && pwd)
argo_version=${ARGO_ROLLOUTS_VERSION:?ARGO_ROLLOUTS_VERSION must be set (see Makefile)}
# Argo Rollouts v1.10 needs a newer Go than the machine's; the go command
# fetches this toolchain from the module proxy.
argo_toolchain=${ARGO_TOOLCHAIN:-go1.27.3}
# Prometheus 3.x is published as module versions v0.3XY.Z for release 3.XY.Z.
prom_version=${PROMETHEUS_VERSION:?PROMETHEUS_VERSION must be set (see Makefile)}
prom_minor=$(echo "$prom_version" | cut -d. -f2)
prom_release="$((10#$prom_minor / 100)).$((10#$prom_minor % 100)).$(echo "$prom_version" | cut -d. -f3)"
traefik_version=${TRAEFIK_VERSION:?TRAEFIK_VERSION must be set (see Makefile)}
mkdir -p "$bin"

kube_version=$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$here" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
kube_minor=$(echo "$kube_version" | cut -d. -f2)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
kube_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$kube_minor"
  kube_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$now"
done

all=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl rollouts-controller kubectl-argo-rollouts prometheus traefik)
tools=("$@"); [ ${#tools[@]} -gt 0 ] || tools=("${all[@]}")

# want prints the version string a tool must report; have prints what it reports.
want() {
  case $1 in
    etcd) echo "etcd Version: ${etcd_version#v}" ;;
    kubectl) echo "Client Version: $kube_version" ;;
    kube-*) echo "Kubernetes $kube_version" ;;
    rollouts-controller|kubectl-argo-rollouts) echo "$argo_version" ;;
    prometheus) echo "prometheus, version $prom_release" ;;
    traefik) echo "$traefik_version" ;;
  esac
}
have() {
  case $1 in
    etcd) "$bin/etcd" --version 2>/dev/null | head -1 ;;
    kubectl) "$bin/kubectl" version --client 2>/dev/null | head -1 ;;
    kube-*) "$bin/$1" --version 2>/dev/null ;;
    rollouts-controller) "$bin/$1" --version 2>/dev/null | head -1 ;;
    kubectl-argo-rollouts) "$bin/$1" version --short 2>/dev/null | head -1 | awk '{print $2}' ;;
    prometheus) "$bin/$1" --version 2>/dev/null | head -1 | sed 's/ (.*//' ;;
    traefik) "$bin/$1" version 2>/dev/null | sed -n 's/^Version:[[:space:]]*//p' ;;
  esac
}

# download MODULE VERSION [TOOLCHAIN] puts the module in the module cache and
# sets dir (its directory there) and commit (the release's git commit, if the
# proxy says).
download() {
  local info
  info=$(cd "$here" && env ${3:+GOTOOLCHAIN=$3} GOFLAGS=-mod=mod go mod download -json "$1@$2")
  dir=$(echo "$info" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  commit=$(echo "$info" | sed -n 's/^\t\t"Hash": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] || { echo "cannot download $1@$2" >&2; return 1; }
}

build() {
  case $1 in
    etcd) (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" ./etcd) ;;
    kube-*|kubectl) (cd "$here" && go build -trimpath -ldflags "$kube_ldflags" -o "$bin/$1" "k8s.io/kubernetes/cmd/$1") ;;
    rollouts-controller|kubectl-argo-rollouts)
      download github.com/argoproj/argo-rollouts "$argo_version" "$argo_toolchain"
      # The release's version variables, as its own Makefile sets them.
      v=github.com/argoproj/argo-rollouts/utils/version
      ldflags="-s -w -X $v.version=${argo_version#v} -X $v.gitTag=$argo_version -X $v.gitCommit=${commit:-unknown}"
      ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=$now"
      (cd "$dir" && CGO_ENABLED=0 GOTOOLCHAIN=$argo_toolchain go build -trimpath -ldflags "$ldflags" -o "$bin/$1" "./cmd/$1") ;;
    prometheus)
      download github.com/prometheus/prometheus "$prom_version"
      [ "$(cat "$dir/VERSION")" = "$prom_release" ] || {
        echo "github.com/prometheus/prometheus@$prom_version is release $(cat "$dir/VERSION"), not $prom_release" >&2; return 1; }
      # The release's version variables, as its .promu.yml sets them. Without
      # the builtinassets tag the web UI is left out; the HTTP API is all the
      # harness and Argo use. The module's go.work names development modules
      # that the module zip leaves out: GOWORK=off, as go install does.
      v=github.com/prometheus/common/version
      ldflags="-s -w -X $v.Version=$prom_release -X $v.Revision=${commit:-unknown} -X $v.Branch=HEAD"
      ldflags+=" -X $v.BuildUser=$(id -un)@${HOSTNAME:-localhost} -X $v.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)"
      (cd "$dir" && CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags "$ldflags" -o "$bin/$1" ./cmd/prometheus) ;;
    traefik)
      download github.com/traefik/traefik/v3 "$traefik_version"
      # Built inside a writable copy of the module: its go.mod replaces
      # modules with forks (which go install refuses), and go build in the
      # read-only module cache cannot record what it resolves. The copy is
      # kept beside bin/ for incremental rebuilds. The web UI is left out:
      # the harness needs the router, not the dashboard.
      src="$bin/.src/traefik@$traefik_version"
      if [ ! -f "$src/go.mod" ]; then
        rm -rf "$src.tmp" && mkdir -p "$(dirname "$src")"
        cp -r "$dir" "$src.tmp" && chmod -R u+w "$src.tmp" && mv "$src.tmp" "$src"
      fi
      v=github.com/traefik/traefik/v3/pkg/version
      ldflags="-s -w -X $v.Version=$traefik_version -X $v.BuildDate=$now"
      (cd "$src" && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$bin/$1" ./cmd/traefik) ;;
    *) echo "unknown tool $1 (known: ${all[*]})" >&2; return 1 ;;
  esac
}

i=0
for t in "${tools[@]}"; do
  i=$((i + 1))
  w=$(want "$t")
  if [ -x "$bin/$t" ] && [ "$(have "$t" || true)" = "$w" ]; then
    echo "[$i/${#tools[@]}] $t: up to date ($w)"
    continue
  fi
  echo "[$i/${#tools[@]}] $t: building ($w) ..."
  start=$(date +%s)
  build "$t"
  h=$(have "$t" || true)
  if [ "$h" != "$w" ]; then
    echo "[$i/${#tools[@]}] $t: built, but it reports '$h', want '$w'" >&2
    exit 1
  fi
  echo "[$i/${#tools[@]}] $t: built in $(( $(date +%s) - start ))s ($h)"
done
