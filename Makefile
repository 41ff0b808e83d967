# conpat — the front door. `make help` lists the targets.
SHELL := /bin/bash
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON ?= /usr/bin/python3
PROFILE ?= default
MACHINE ?= $(shell hostname -s 2>/dev/null || hostname)
BENCH_ARGS ?=
OUT ?= results
GO_BACKPORTS ?= 0

.PHONY: help deps configure build test test-release test-tsan test-asan bench compare abtest report clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

deps: ## install missing Debian/Ubuntu packages (idempotent); GO_BACKPORTS=1 adds Debian 12 backports for Go 1.23
	@GO_BACKPORTS=$(GO_BACKPORTS) scripts/install-deps.sh

build/%/CMakeCache.txt:
	cmake --preset $* >/dev/null

build: deps build/release/CMakeCache.txt ## build the release tree (tests and benches)
	cmake --build --preset release -j $(JOBS)

test: deps ## build and run every test: release, then ThreadSanitizer, then ASan + UBSan
	$(MAKE) --no-print-directory test-release
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-asan
	@echo "make test: all suites passed"

test-release: build/release/CMakeCache.txt
	cmake --build --preset release -j $(JOBS)
	ctest --preset release -j $(JOBS)

test-tsan: build/tsan/CMakeCache.txt
	cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -j $(JOBS) -LE no_tsan

test-asan: build/asan/CMakeCache.txt ## run the tests under ASan + UBSan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

bench: deps build ## run PROFILE=quick|default|full (BENCH_ARGS=... to Google Benchmark); writes results/<machine>/
	$(PYTHON) scripts/bench.py --profile $(PROFILE) --machine $(MACHINE) --out-dir $(OUT) -- $(BENCH_ARGS)

compare: ## compare runs: make compare A=<file|dir> B=<file|dir> [ARGS='--format markdown']
	@if [ -z "$(A)" ] || [ -z "$(B)" ]; then echo "make compare: give A=<results file or dir> B=<results file or dir>" >&2; exit 2; fi
	@$(PYTHON) scripts/compare.py $(A) $(B) $(ARGS)

abtest: ## A/B test two revisions interleaved and paired: make abtest BASE=<rev> [HEAD=<rev>] [ARGS=...] (HEAD: the working tree)
	@if [ -z "$(BASE)" ]; then echo "make abtest: give BASE=<git revision> (and HEAD=<revision>; default: the working tree)" >&2; exit 2; fi
	@$(MAKE) --no-print-directory deps
	$(PYTHON) scripts/abtest.py --base '$(BASE)' $(if $(HEAD),--head '$(HEAD)') --profile $(PROFILE) --machine $(MACHINE) $(ARGS) -- $(BENCH_ARGS)

report: ## regenerate report/ (not committed) from the newest run per machine, or RUNS=...; BASELINE=run or ABTEST=file adds the changes; HISTORY=history/ draws stored summaries
	@$(PYTHON) scripts/report.py $(RUNS) $(if $(BASELINE),--baseline $(BASELINE)) $(if $(ABTEST),--abtest $(ABTEST)) $(if $(HISTORY),--history $(HISTORY))

clean: ## remove build trees
	rm -rf build
