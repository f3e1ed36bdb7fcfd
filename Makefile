# runfleet — one Makefile; CI (.ci/run) calls these targets.
SHELL := bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin
BUSYBOX_IMAGE ?= runfleet/busybox:latest
# go test's -timeout applies to each package's test binary: a hung test fails
# within it, with every goroutine's stack. Unit and integration packages get
# TEST_TIMEOUT; the end-to-end suites under tests/ get E2E_TIMEOUT (tests/e2e
# took 12m43s on a 2-core machine busy with other suites; each of its waits
# has a shorter deadline of its own).
TEST_TIMEOUT ?= 8m
E2E_TIMEOUT ?= 20m
# the race detector slows the agent and the tests several times over
RACE_TIMEOUT ?= 30m

.PHONY: all build test test-local race race-local unit bench bench-local demo demo-local demo-exec demo-exec-local lint images clean fuzz terraform-check

all: build

build: ## binaries into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/runner ./cmd/runner

# The sources helper image comes from the agent's own builder (executors/helperimage,
# from the host's git), as on a node.
images: build ## offline images the tests and the demo need (no registry)
	images/busybox/build.sh $(BUSYBOX_IMAGE)
	$(BIN)/runner --config /nonexistent/runfleet-images.toml helper-image
	images/github-runner-stub/build.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: ## unit + integration + end-to-end; installs and starts a Docker engine if none answers
	tests/engine.sh $(MAKE) test-local

test-local: lint images ## the same, with the engine you already have
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/tests/')
	$(GO) test -count=1 -timeout $(E2E_TIMEOUT) ./tests/...

race: ## unit tests and the end-to-end suite with the race detector in the agent binary too
	tests/engine.sh $(MAKE) race-local

race-local: images
	$(GO) test -race -count=1 -timeout $(RACE_TIMEOUT) ./runner/... ./autoscaler/...
	RUNFLEET_E2E_RACE=1 GORACE=halt_on_error=1 $(GO) test -count=1 -timeout $(RACE_TIMEOUT) ./tests/e2e/

unit: ## tests that need no daemon
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./runner/... ./cmd/...

terraform-check: ## terraform fmt -check (Terraform 1.5.7 via go install); validate + test when TF_PLUGIN_MIRROR names a provider mirror
	terraform/check.sh

fuzz: ## a short fuzz run of the cache key sanitiser
	$(GO) test -run='^$$' -fuzz=FuzzSanitizeKey -fuzztime=30s ./runner/cache/

bench: ## speed and memory figures, printed as ratios against baselines measured in the same run
	tests/engine.sh $(MAKE) bench-local

bench-local: images build
	$(GO) test -run='^$$' -bench=. -benchtime=10x -count=1 -timeout 30m ./executors/docker/ ./executors/containerd/ ./executors/enginebench/ ./executors/diskcap/ ./runner/cache/ ./tests/e2e/
	$(GO) test -run='^$$' -bench=ReplayTraces -benchtime=1x -count=1 -timeout 30m ./autoscaler/sim/
	$(GO) test -run='^$$' -bench=Heartbeats10k -benchtime=1x -count=1 -timeout 10m ./autoscaler/controlplane/
	$(GO) test -run='^$$' -bench=GitHubJITMint -benchtime=200x -count=1 -timeout 10m ./cmd/autoscaler/

demo: ## the local fleet: a burst of jobs on a local fake GitLab, nodes (containers) scaling up, running them, scaling down
	tests/engine.sh $(MAKE) demo-local

demo-local: images build
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/autoscaler ./cmd/autoscaler
	$(GO) build -o $(BIN)/fleet-demo ./tests/demo/fleet
	images/runner-dev/build.sh runfleet/runner-dev:latest
	$(BIN)/fleet-demo --autoscaler $(BIN)/autoscaler --image runfleet/runner-dev:latest --job-image $(BUSYBOX_IMAGE)

demo-exec: ## run the demo project's job in a container on the embedded default (busybox image, local cache)
	tests/engine.sh $(MAKE) demo-exec-local

demo-exec-local: images build
	cd tests/demo && ../../$(BIN)/runner exec --config /nonexistent/runfleet-demo.toml build

clean:
	rm -rf $(BIN)
