# The two commands of the set-up contract: `make run` and `make test`; `make bench` measures.
SWIFT ?= swift
CRIO_FLAGS ?=
BENCH_FLAGS ?=
FUZZ_SECONDS ?= 60
FUZZ_SEED ?=

.PHONY: all deps build run test unit-test integration-test fuzz bench generate check-proto clean

all: build

# Host packages (runc, conmon, CNI plugins, iptables, iproute2), installed with apt only when missing.
deps:
	@bash scripts/install-host-deps.sh

build:
	$(SWIFT) build

# Runs the daemon in the foreground on built-in defaults (no config file needed).
run: deps build
	@bash scripts/install-default-cni.sh
	exec $$($(SWIFT) build --show-bin-path)/crio $(CRIO_FLAGS)

# Every test, unit and integration (the integration suite starts the real daemon).
test: deps
	$(SWIFT) build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --skip IntegrationTests

integration-test: deps
	$(SWIFT) build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --filter IntegrationTests

# Only the fuzz tests (suites named *FuzzTests), each target fuzzed for FUZZ_SECONDS (60) from the base seed
# FUZZ_SEED (default: the time, printed first). `make test` runs them too, for about a second each.
# A failure prints the case seed that reproduces it; see docs/reliability.md.
fuzz: deps
	$(SWIFT) build --build-tests
	@seed=$(or $(FUZZ_SEED),$$(date +%s)); \
	echo "make fuzz: CRIO_FUZZ_SEED=$$seed CRIO_FUZZ_SECONDS=$(FUZZ_SECONDS)"; \
	CRIO_FUZZ_SEED=$$seed CRIO_FUZZ_SECONDS=$(FUZZ_SECONDS) $(SWIFT) test --skip-build --disable-xctest --filter FuzzTests

# Release build of crio and crio-bench, then the benchmark (as root): crio on temporary directories, a local
# registry, a table of N/min/median/p90/max per CRI operation. Not part of `make test`: it measures, it does
# not assert. Flags: make bench BENCH_FLAGS="--compare unix:///run/containerd/containerd.sock --json bench.json"
bench: deps
	$(SWIFT) build -c release --product crio
	$(SWIFT) build -c release --product crio-bench
	$$($(SWIFT) build -c release --show-bin-path)/crio-bench $(BENCH_FLAGS)

# Regenerates Sources/CRIAPI/Generated from Protos/ (builds the protoc plugins first).
generate:
	bash scripts/generate-protos.sh

# Compares Protos/runtime/v1/api.proto with an upstream cri-api api.proto: make check-proto UPSTREAM=path
check-proto:
	python3 scripts/check-proto.py $(UPSTREAM)

clean:
	rm -rf .build
