# ShiftPay developer commands. `make help` lists them.
# Two commands do all the set-up on a fresh machine with Rust and Node.js: `make demo`, `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
NPM ?= npm
PYTHON ?= python3
# Python virtual environment for Slither (pinned in tools/slither/requirements.txt).
VENV ?= .venv
# 1,000 cases x 50 steps for the stateful invariant tests unless overridden.
export PROPTEST_CASES ?= 1000
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help deps demo test fmt fmt-check clippy contracts contracts-check slither forge-check gas gas-check docs cargo-test web chromium

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# npm ci runs again only when package.json or package-lock.json is newer than the install.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js is required (https://nodejs.org)" >&2; exit 1; }
	$(NPM) ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json ## Install the pinned Solidity toolchain (solc-js, OpenZeppelin, anvil/forge/cast)

# The Slither venv is created when missing and rebuilt from scratch only when the pinned
# requirements change (the stamp is a copy of the requirements it was built from).
$(VENV)/.slither-requirements.txt: tools/slither/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
		|| { echo "Slither needs Python 3.11+ with venv and pip ($(PYTHON) is missing or older)" >&2; exit 1; }
	@echo "Creating $(VENV) with the pinned Slither (tools/slither/requirements.txt)"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r $<
	@cp $< $@

demo: deps ## Run the demo on the local devnet (started if needed): payroll, escrow, relayer, balances
	$(CARGO) run --quiet --locked -p shiftpay-cli -- demo

test: deps fmt-check clippy contracts-check slither forge-check gas-check web chromium cargo-test ## Everything CI runs
	@echo "make test: all checks passed"

fmt: ## Format the Rust code
	$(CARGO) fmt --all

fmt-check: ## Check Rust formatting
	$(CARGO) fmt --all -- --check

clippy: ## Lint every crate and target, warnings are errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

contracts: deps ## Compile contracts/ and rewrite the committed artifacts
	$(CARGO) xtask contracts build

contracts-check: deps ## Fail, naming the contract, if committed artifacts are stale
	$(CARGO) xtask contracts check

slither: deps $(VENV)/.slither-requirements.txt ## Static analysis of contracts/src (Slither); fails on any High or Medium finding
	$(VENV)/bin/python tools/slither/run.py

forge-check: deps ## Check that `forge build` produces the same bytecode as the Rust pipeline
	$(CARGO) xtask contracts forge-check

gas: ## Regenerate contracts/GAS.md (gas report: ShiftPay vs Sablier Flow)
	$(CARGO) run --quiet -p shiftpay-tests --bin gas-report -- --write contracts/GAS.md

# The gas check runs the `gas-report` binary of the one test build (tools/run-tests.py builds the
# same selection), so `make test` compiles the workspace's dependencies once, not once per
# `cargo run -p`.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
TEST_BUILD := $(CARGO) test --workspace --exclude xtask --locked --no-run

gas-check: ## Fail if contracts/GAS.md is not what the gas report prints now
	$(TEST_BUILD) --quiet
	$(TARGET_DIR)/debug/gas-report --check contracts/GAS.md

docs: ## Regenerate docs/cli.md (every command's --help) from the CLI's clap definitions
	SHIFTPAY_UPDATE_DOCS=1 $(CARGO) test --quiet -p shiftpay-cli --bin shiftpay docs

cargo-test: deps web chromium ## Run the Rust test suites: one build, then the test binaries side by side (tools/run-tests.py)
	$(PYTHON) tools/run-tests.py

# The wallet page (web/): type-checked and built into web/dist when a source, the contract
# artifacts it imports or the npm lock changed. The relayer serves it with `[api] web_dir`.
WEB_SOURCES := $(wildcard web/src/*.ts web/src/*.css) web/index.html web/vite.config.mts \
	web/tsconfig.json bindings/artifacts/Payroll.json bindings/artifacts/MilestoneEscrow.json

web/dist/index.html: $(WEB_SOURCES) node_modules/.package-lock.json
	$(NPM) run --silent web:check
	$(NPM) run --silent web:build
	@touch $@

web: web/dist/index.html ## Build the wallet page into web/dist (served by the relayer's [api] web_dir)

# Debian's Chromium for the wallet page's browser test (playwright-core never downloads one).
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium: ## Install Chromium (apt-get) when /usr/bin/chromium is missing
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium with apt-get for the wallet page's browser test"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; \
	fi
