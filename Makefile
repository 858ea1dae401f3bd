# blastradius: see README.md. Build outputs go to bin/ (ignored by git).
GO      ?= go
BIN     := $(CURDIR)/bin
PKG     := github.com/blastradius/blastradius
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X $(PKG)/harness/cli.Version=$(VERSION)
# Argo Rollouts release built into bin/ by `make tools`; its manifests are read
# from the same module in the Go module cache at run time.
ARGO_ROLLOUTS_VERSION ?= v1.10.2
# The Go toolchain Argo Rollouts v1.10 needs (the go command fetches it).
ARGO_TOOLCHAIN ?= go1.27.3
# Prometheus built into bin/ by `make tools`: the module version v0.3XY.Z is
# Prometheus 3.XY.Z (this one is 3.16.0).
PROMETHEUS_VERSION ?= v0.316.0
# Traefik built into bin/ by `make tools`, the local platform's L7 router; its
# CRDs and RBAC are read from the same module at run time. (v3.7 does not
# build from the module proxy: a replace to a nested local module.)
TRAEFIK_VERSION ?= v3.6.12
# The demo app and the harness are static binaries: each becomes an image's
# only layer (blastradius images build|push), which has no C library.
STATIC  := CGO_ENABLED=0

.PHONY: all build tools scenario fidelity conformance kind-node test unit bench lint fmt clean

all: build

# The Traefik traffic-router plugin for Argo is its own module (it builds
# against Argo Rollouts' packages, which need Argo's Go toolchain).
build:
	@mkdir -p $(BIN)
	$(STATIC) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/demoapp ./demoapp/cmd/demoapp
	cd harness/router/traefikplugin && $(STATIC) GOTOOLCHAIN=$(ARGO_TOOLCHAIN) $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/rollouts-plugin-traefik ./cmd/rollouts-plugin-traefik
	$(STATIC) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/blastradius .

# The local platform's tools: Kubernetes v1.34 control plane, kubectl, etcd,
# the Argo Rollouts controller and kubectl plugin, Prometheus (hack/tools/build.sh).
tools:
	ARGO_ROLLOUTS_VERSION=$(ARGO_ROLLOUTS_VERSION) ARGO_TOOLCHAIN=$(ARGO_TOOLCHAIN) PROMETHEUS_VERSION=$(PROMETHEUS_VERSION) TRAEFIK_VERSION=$(TRAEFIK_VERSION) hack/tools/build.sh $(BIN)

# A run set on PLATFORM (local by default; kind: kind clusters, with Docker;
# cluster: RUN_FLAGS='--context NAME'); results in out/. SET=pr (the default) is
# the PR set, SET=full the nightly set (scenarios/sets/). SCENARIOS replaces
# the set with files or directories, e.g. SCENARIOS=scenarios/ai with
# RUN_FLAGS='--llm-replay tapes/ai'. TIME_SCALE=F compresses every release F
# times at 1/F the rate (docs/runner.md, "Time scale"), replacing the set's.
# Two runs at a time use about 40% of 2 cores: a run mostly waits on Argo's
# pauses and analyses (docs/runner.md, "Where the time goes").
SET        ?= pr
SCENARIOS  ?= scenarios/sets/$(SET).yaml
PARALLEL   ?= 2
RUN_FLAGS  ?=
TIME_SCALE ?=
OUT        ?= out
PLATFORM   ?= local
scenario: build tools
	$(BIN)/blastradius run $(SCENARIOS) --platform $(PLATFORM) --out $(OUT) --bin $(BIN) --parallel $(PARALLEL) $(if $(TIME_SCALE),--time-scale $(TIME_SCALE)) $(RUN_FLAGS)

# The time scale's fidelity check (not part of make test: about 20 minutes):
# the PR set at FIDELITY_SCALE and at 1, and every verdict the same, run by
# run (report --same-verdicts exits 1 otherwise). A failed expectation does
# not stop the comparison.
FIDELITY_SCALE ?= 0.5
fidelity: build tools
	-$(BIN)/blastradius run scenarios/sets/pr.yaml --out $(OUT)/fidelity-fast --bin $(BIN) --parallel $(PARALLEL) --time-scale $(FIDELITY_SCALE)
	-$(BIN)/blastradius run scenarios/sets/pr.yaml --out $(OUT)/fidelity-default --bin $(BIN) --parallel $(PARALLEL) --time-scale 1
	$(BIN)/blastradius report $(OUT)/fidelity-fast --baseline $(OUT)/fidelity-default --same-verdicts

# A kind node image built without pulling any image, for machines with
# Docker but no registry (hack/kindnode/build.sh: root, debootstrap, Debian's
# mirror); then make scenario PLATFORM=kind RUN_FLAGS='--node-image IMAGE'.
KIND_NODE_IMAGE ?=
kind-node:
	hack/kindnode/build.sh $(KIND_NODE_IMAGE)

# Argo Rollouts' own e2e suite, built from its module in the module cache,
# against local clusters of its own (not part of make test; 11 minutes on
# 2 cores; docs/conformance.md). CONFORMANCE_RUN=REGEX runs the tests whose
# Suite/Test name matches, e.g. CONFORMANCE_RUN=TestBlueGreenSuite/.
# Results in $(OUT)/conformance; exit 1 when a test that should pass fails.
CONFORMANCE_RUN   ?=
CONFORMANCE_FLAGS ?=
conformance: build tools
	$(GO) run ./hack/conformance --bin $(BIN) --out $(OUT)/conformance --toolchain $(ARGO_TOOLCHAIN) $(if $(CONFORMANCE_RUN),--run '$(CONFORMANCE_RUN)') $(CONFORMANCE_FLAGS)

# The README's test command: unit tests and end-to-end tests.
test: build tools
	BLASTRADIUS_BIN=$(BIN) $(GO) test -p 1 -count=1 -timeout 45m ./...
	cd harness/router/traefikplugin && GOTOOLCHAIN=$(ARGO_TOOLCHAIN) $(GO) test -count=1 ./...

unit:
	$(GO) test -count=1 -short ./...

# Speed targets live here, reported as ratios measured in the same run.
bench: build tools
	BLASTRADIUS_BIN=$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -count=1 ./...
	$(BIN)/blastradius bench analyzers --corpus harness/bench/corpus --out out/bench

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd harness/router/traefikplugin && GOTOOLCHAIN=$(ARGO_TOOLCHAIN) $(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
