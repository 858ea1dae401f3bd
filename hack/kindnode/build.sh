#!/bin/bash
# Builds a kind node image without pulling any image: for machines with a
# Docker engine but no registry (kind's own node images are pulled). What it
# is made of:
#   - a Debian root filesystem from Debian's packages (debootstrap): systemd,
#     containerd, runc, the CNI plugins, iptables, jq and the rest kind's
#     entrypoint uses;
#   - kind's own base-image files (entrypoint, systemd units, containerd
#     config), read from kind's module in the module cache at build time;
#   - Kubernetes (kubelet, kubeadm, the control plane, kube-proxy) at the
#     version hack/tools pins, etcd and CoreDNS at the versions that
#     kubeadm asks for, and crictl, all built from their Go modules; a pause
#     of our own (pause/);
#   - their images (imgbuild/), imported into containerd at the node's boot.
# One node, no CNI daemon: a static bridge over kind's default pod subnet.
#
# Usage: hack/kindnode/build.sh [IMAGE]   (default blastradius/kind-node:<k8s version>)
# Needs: root, debootstrap, Go, a running Docker engine, Debian's mirror.
# Then: blastradius run ... --platform kind --node-image IMAGE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${WORK:-/var/tmp/blastradius-kindnode}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}
kube=$(cd "$repo/hack/tools" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
kindmod=$(cd "$repo" && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)
image=${1:-blastradius/kind-node:$kube}
root=$work/rootfs out=$work/out
mkdir -p "$work" "$out"
say() { echo "[kindnode] $*"; }

# 1. The root filesystem.
if [ ! -x "$root/usr/bin/containerd" ]; then
  say "debootstrap $suite into $root ..."
  rm -rf "$root"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,ca-certificates,procps,socat,bash,e2fsprogs,jq \
    "$suite" "$root" "$mirror" > "$work/debootstrap.log"
fi
# kube-proxy's image is this filesystem too: it runs iptables.
[ -f "$out/base.tar" ] || tar -C "$root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$out/base.tar" .

# 2. The programs. Kubernetes from a copy of hack/tools's module (kubelet
# needs modules make tools does not), static for images without a libc.
static() { CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$1" -o "$2" "$3"; }
mkdir -p "$work/k8s" && cp "$repo/hack/tools/go.mod" "$repo/hack/tools/go.sum" "$work/k8s/"
printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kubelet"\n\t_ "k8s.io/kubernetes/cmd/kubeadm"\n)\n' > "$work/k8s/tools.go"
minor=$(echo "$kube" | cut -d. -f2)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $p.gitVersion=$kube -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
for c in kubelet kubeadm kube-proxy kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$out/$c" ] || { say "building $c $kube ..."; (cd "$work/k8s" && static "$ld" "$out/$c" "k8s.io/kubernetes/cmd/$c"); }
done
# The images kubeadm will ask for, at their tags.
images=$("$out/kubeadm" config images list --kubernetes-version "$kube")
tag() { echo "$images" | grep "/$1:" | sed 's/.*://'; }
etcd_tag=$(tag etcd) coredns_tag=$(tag coredns) pause_tag=$(tag pause)
# module DIR MODULE VERSION MAIN: a throwaway module that builds MAIN.
module() {
  mkdir -p "$1" && printf 'module build\n\ngo 1.26\n' > "$1/go.mod" && printf '%s\n' "$4" > "$1/main.go"
  (cd "$1" && GOFLAGS=-mod=mod go get "$2@$3" >/dev/null 2>&1)
}
if [ ! -x "$out/etcd" ]; then
  say "building etcd v${etcd_tag%-*} ..."
  module "$work/etcd" go.etcd.io/etcd/server/v3 "v${etcd_tag%-*}" \
    $'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }'
  (cd "$work/etcd" && static "-s -w" "$out/etcd" .)
fi
if [ ! -x "$out/coredns" ]; then
  say "building CoreDNS $coredns_tag ..."
  module "$work/coredns" github.com/coredns/coredns "$coredns_tag" \
    $'package main\n\nimport (\n\t_ "github.com/coredns/coredns/core/plugin"\n\t"github.com/coredns/coredns/coremain"\n)\n\nfunc main() { coremain.Run() }'
  (cd "$work/coredns" && static "-s -w" "$out/coredns" .)
fi
# crictl only serves kind's log collection: a node goes without it.
if [ ! -x "$out/crictl" ]; then
  say "building crictl v1.$minor.0 ..."
  module "$work/crictl" sigs.k8s.io/cri-tools "v1.$minor.0" 'package main' \
    && (cd "$work/crictl" && static "-s -w" "$out/crictl" sigs.k8s.io/cri-tools/cmd/crictl) \
    || say "crictl did not build: the node goes without it (kind's log collection needs it)"
fi
(cd "$repo" && static "-s -w" "$out/pause" ./hack/kindnode/pause && go build -o "$out/imgbuild" ./hack/kindnode/imgbuild)

# 3. The images, in one archive the node imports at boot.
say "writing the images ..."
r=registry.k8s.io
"$out/imgbuild" -out "$out/images.tar" \
  "$r/kube-apiserver:$kube=$out/kube-apiserver:/usr/local/bin/kube-apiserver" \
  "$r/kube-controller-manager:$kube=$out/kube-controller-manager:/usr/local/bin/kube-controller-manager" \
  "$r/kube-scheduler:$kube=$out/kube-scheduler:/usr/local/bin/kube-scheduler" \
  "$r/kube-proxy:$kube=$out/kube-proxy:/usr/local/bin/kube-proxy+$out/base.tar" \
  "$r/etcd:$etcd_tag=$out/etcd:/usr/local/bin/etcd" \
  "$r/coredns/coredns:$coredns_tag=$out/coredns:/coredns" \
  "$r/pause:$pause_tag,$r/pause:$(grep -o 'pause:[0-9.]*' "$kindmod/images/base/files/etc/containerd/config.toml" | cut -d: -f2)=$out/pause:/pause"

# 4. The node: kind's base files and what kind's base image does with them.
say "assembling the node ..."
files=$kindmod/images/base/files
install -m 0755 "$files"/usr/local/bin/* "$root/usr/local/bin/"
mkdir -p "$root/kind/bin" "$root/kind/manifests" "$root/kind/images" "$root/etc/kubernetes/manifests" \
  "$root/etc/containerd" "$root/etc/default" "$root/etc/sysctl.d" "$root/etc/systemd/system/kubelet.service.d" "$root/etc/cni/net.d"
cp -r "$files/kind/." "$root/kind/" && chmod 0755 "$root/kind" "$root/kind/bin" "$root"/kind/bin/*
install -m 0644 "$files/etc/crictl.yaml" "$root/etc/"
install -m 0644 "$files/etc/containerd/config.toml" "$root/etc/containerd/"
install -m 0644 "$files/etc/default/kubelet" "$root/etc/default/"
install -m 0644 "$files"/etc/sysctl.d/* "$root/etc/sysctl.d/"
for u in kubelet.slice undo-mount-hacks.service kubelet.service containerd.service; do
  install -m 0644 "$files/etc/systemd/system/$u" "$root/etc/systemd/system/"
done
install -m 0644 "$files"/etc/systemd/system/kubelet.service.d/* "$root/etc/systemd/system/kubelet.service.d/"
install -m 0755 "$out/kubelet" "$out/kubeadm" "$out/kubectl" "$root/usr/bin/"
[ ! -x "$out/crictl" ] || install -m 0755 "$out/crictl" "$root/usr/bin/"
# Debian's containerd and CNI plugins where kind's files look for them; no
# fuse-overlayfs (rootless kind only).
ln -sf /usr/bin/containerd "$root/usr/local/bin/containerd"
rm -rf "$root/opt/cni/bin" && mkdir -p "$root/opt/cni" && ln -s /usr/lib/cni "$root/opt/cni/bin"
sed -i '/^\[proxy_plugins\]/,/^  address = "\/run\/containerd-fuse-overlayfs.sock"/d' "$root/etc/containerd/config.toml"
# A pod may not lower its oom_score_adj below containerd's: on a host whose
# capability bounding set lacks CAP_SYS_RESOURCE, runc cannot.
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$root/etc/containerd/config.toml"
# kind's base runtime spec: ctr's default, with its product-files hook and no rlimits.
chroot "$root" sh -c 'ctr oci spec | jq ".hooks.createContainer += [{\"path\": \"/kind/bin/mount-product-files.sh\"}] | del(.process.rlimits)"' \
  > "$root/etc/containerd/cri-base.json"
find "$root/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
  "$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
  "$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
grep -q '^ReadKMsg=no' "$root/etc/systemd/journald.conf" || echo "ReadKMsg=no" >> "$root/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$root/sbin/init"
echo "$kube" > "$root/kind/version"
install -m 0644 "$out/images.tar" "$root/kind/images/images.tar"
cat > "$root/etc/systemd/system/kind-images.service" <<'UNIT'
[Unit]
Description=Import the node's images into containerd
After=containerd.service
Requires=containerd.service
Before=kubelet.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'until ctr version >/dev/null 2>&1; do sleep 0.2; done; ctr --namespace=k8s.io images import --all-platforms --digests /kind/images/images.tar'
[Install]
WantedBy=multi-user.target
UNIT
cat > "$root/etc/cni/net.d/10-bridge.conflist" <<'CNI'
{"cniVersion": "0.4.0", "name": "bridge", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
CNI
# kind applies these at create: nothing to run for either.
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: node-cni\n  namespace: kube-system\ndata:\n  cni: a static bridge in /etc/cni/net.d\n' > "$root/kind/manifests/default-cni.yaml"
printf 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: standard\nprovisioner: kubernetes.io/no-provisioner\n' > "$root/kind/manifests/default-storage.yaml"
chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service kind-images.service >/dev/null 2>&1
chroot "$root" systemctl mask systemd-binfmt.service >/dev/null 2>&1
chroot "$root" apt-get clean && rm -rf "$root"/var/lib/apt/lists/*

# 5. The image.
say "importing $image ..."
tar -C "$root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - . \
  | docker import --change 'ENV container=docker' --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - "$image" >/dev/null
say "done: blastradius run ... --platform kind --node-image $image"
