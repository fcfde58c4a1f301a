# Clusterdesk. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
LIB       := web/static/lib
LIB_FILES := $(LIB)/htmx.min.js $(LIB)/sse.min.js $(LIB)/pico.min.css
TEST_FLAGS ?= -race -count=1 -timeout=20m
# Executions per fuzz target in `make fuzz`: a count, not a duration, since a
# duration races the fuzz coordinator's shutdown on Go 1.26 (golang/go#75804:
# a spurious "context deadline exceeded" with no failing input).
FUZZ_EXECS ?= 50000

.PHONY: help
help: ## Show the targets and what they do.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Start the whole portal locally: PostgreSQL, simulator, identity provider (Ctrl-C stops all).
	./bin/portal dev

.PHONY: build
build: assets generate ## Build bin/portal with every asset embedded, and the command-line client bin/clusterdesk.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/portal ./cmd/portal
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/clusterdesk ./cmd/clusterdesk

.PHONY: assets
assets: $(LIB_FILES) ## Install the pinned front-end packages (npm ci) and copy them into web/static/lib.

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(LIB)/htmx.min.js: web/node_modules/.package-lock.json
	cp web/node_modules/htmx.org/dist/htmx.min.js $@
$(LIB)/sse.min.js: web/node_modules/.package-lock.json
	cp web/node_modules/htmx-ext-sse/dist/sse.min.js $@
$(LIB)/pico.min.css: web/node_modules/.package-lock.json
	cp web/node_modules/@picocss/pico/css/pico.min.css $@

.PHONY: generate
generate: ## Regenerate code: templ components and River's schema migration.
	$(GO) tool templ generate -log-level error
	$(GO) run ./internal/tools/riversql > migrations/00001_river.sql

.PHONY: verify
verify: generate ## Regenerate and fail if anything generated was out of date, or go.mod is untidy.
	$(GO) mod tidy -diff
	@git diff --exit-code -- '*_templ.go' migrations/ || { echo "generated files were stale: run make generate and commit"; exit 1; }

.PHONY: test-tools
test-tools: ## Install what the tests drive if it is missing (Debian packages): Chromium, and jq for the audit recipe.
	@missing=""; for pkg in chromium jq; do command -v $$pkg >/dev/null || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

.PHONY: test
test: assets generate test-tools ## Run every test (race detector, real PostgreSQL, headless Chromium), then a short fuzz run (50,000 inputs a target).
	$(GO) test $(TEST_FLAGS) ./...
	@$(MAKE) --no-print-directory fuzz

.PHONY: fuzz
fuzz: ## Run each fuzz target on FUZZ_EXECS inputs (a count, not a time: golang/go#75804).
	@for target in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' internal | sed 's/func //' | sort -u); do \
		pkg=$$(grep -rlE "^func $$target\(" --include='*_test.go' internal | head -1 | xargs dirname); \
		echo "fuzz $$target in ./$$pkg"; \
		$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZ_EXECS)x ./$$pkg || exit 1; \
	done

.PHONY: bench
bench: assets generate ## Run the benchmarks; figures go to docs/performance.md.
	$(GO) test -run='^$$' -bench=. -benchmem -timeout=60m ./...

.PHONY: lint
lint: assets generate ## go vet and staticcheck.
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

.PHONY: migrate
migrate: build ## Apply migrations to PORTAL_DATABASE_URL (portal migrate up).
	./bin/portal migrate up

.PHONY: clean
clean: ## Remove build output and the development database (.dev, and its copy in /var/tmp when PostgreSQL's user could not enter the checkout).
	@if [ -e .dev ]; then if [ -x bin/portal ]; then ./bin/portal dev -clean; else $(GO) run ./cmd/portal dev -clean; fi; fi
	rm -rf bin .dev
	find $(LIB) -type f ! -name .gitkeep -delete

.PHONY: screenshots
screenshots: assets generate test-tools ## Retake docs/screenshots/*.png (forms, request page and diff, requests list, audit filters, the cluster page on a phone) by running the browser journeys.
	PORTAL_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -timeout=20m \
		-run '^(TestJourneyCreateApproveAudit|TestBrowserRequestsJourney|TestAuditFiltersJourney|TestBrowserFormPreviewJourney|TestEveryPageAtBothSizes)$$' ./cmd/portal/
