#!/usr/bin/env bash
# Builds real OPA (Go) from Debian's source packages into DEST (default ~/.cache/opa/opa) and
# prints its path last. Nothing is installed system-wide: apt runs with a private state folder,
# packages are only downloaded and unpacked into a scratch folder.
#
# Why this way: no OPA binary package exists in Debian, but sid ships OPA 1.4's Go source and
# every Go dependency as -dev packages. OPA 1.x needs Go >= 1.25 (sid's golang-1.26); its CLI
# needs tablewriter 0.0.x (trixie's), as sid's 1.x breaks it. GOPATH mode builds offline.
set -euo pipefail
dest=${1:-$HOME/.cache/opa/opa}
if [ -x "$dest" ] && "$dest" version >/dev/null 2>&1; then echo "$dest"; exit 0; fi

scratch=$(mktemp -d -t permit-opa.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/state/lists/partial" "$scratch/debs" "$scratch/tree" "$(dirname "$dest")"

# The mirror this machine already uses, for both suites.
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | sed -n 1p || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "build-opa: no Debian mirror configured" >&2; exit 1; }
printf 'deb %s sid main\ndeb %s trixie main\n' "$mirror" "$mirror" > "$scratch/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$scratch/state/lists" -o Debug::NoLocking=1)
apt-get "${apt_opts[@]}" -qq update

# OPA's source, the Go toolchain, and OPA's Go dependencies as Debian names them.
deps=(
  golang-1.26-go golang-1.26-src golang-github-open-policy-agent-opa-dev
  golang-github-olekukonko-tablewriter-dev/trixie
)
for d in agnivade-levenshtein beorn7-perks cenkalti-backoff-v5 cespare-xxhash-v2 clipperhouse-uax29 \
    containerd-containerd containerd-errdefs containerd-log containerd-platforms dgraph-io-badger \
    dgraph-io-ristretto dustin-go-humanize felixge-httpsnoop fsnotify-fsnotify go-ini-ini go-logr-logr \
    go-logr-stdr go-viper-mapstructure gobwas-glob golang-protobuf-1-5 google-flatbuffers google-uuid \
    gorilla-mux grpc-ecosystem-grpc-gateway klauspost-compress mattn-go-runewidth moby-locker \
    munnerz-goautoneg opencontainers-go-digest opencontainers-image-spec pelletier-go-toml.v2 \
    peterh-liner prometheus-client-golang prometheus-client-model prometheus-common prometheus-procfs \
    rcrowley-go-metrics sagikazarmark-locafero sergi-go-diff sirupsen-logrus spf13-afero spf13-cast \
    spf13-cobra spf13-pflag spf13-viper subosito-gotenv tchap-go-patricia xeipuuv-gojsonpointer \
    xeipuuv-gojsonreference yashtewari-glob-intersection; do
  deps+=("golang-github-$d-dev")
done
for d in golang-x-net golang-x-sync golang-x-sys golang-x-text golang-x-time google-genproto google-grpc \
    google-protobuf gopkg-yaml.v2 gopkg-yaml.v3 k8s-sigs-yaml opentelemetry-contrib opentelemetry-otel \
    opentelemetry-proto oras-oras-go uber-automaxprocs; do
  deps+=("golang-$d-dev")
done
(cd "$scratch/debs" && apt-get "${apt_opts[@]}" -qq download "${deps[@]}" 2>&1 | grep -v unsandboxed || true)
ls "$scratch"/debs/*.deb >/dev/null 2>&1 || { echo "build-opa: downloading packages failed" >&2; exit 1; }
for deb in "$scratch"/debs/*.deb; do dpkg-deb -x "$deb" "$scratch/tree"; done

tree=$scratch/tree
version=$(ls "$scratch/debs" | sed -n 's/^golang-github-open-policy-agent-opa-dev_\([0-9.]*\).*/\1/p' | sed -n 1p)
export GOROOT="$tree/usr/lib/go-1.26" GOPATH="$tree/usr/share/gocode" GOCACHE="$scratch/gocache" \
       GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local CGO_ENABLED=0
export PATH="$GOROOT/bin:$PATH"
cd "$GOPATH/src/github.com/open-policy-agent/opa"
go build -trimpath -p "$(nproc)" -o "$dest.partial" \
  -ldflags "-s -w -X github.com/open-policy-agent/opa/v1/version.Version=$version" . >&2
mv "$dest.partial" "$dest"
"$dest" version >&2
echo "$dest"
