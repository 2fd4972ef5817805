# repairxctl: see README.md. `make test` is what CI runs (.ci/run).
GO       ?= go
BIN      := bin/repairxctl
PKG      := github.com/repairx/repairxctl
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's date rather than the clock, so a rebuild is reproducible.
DATE     ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/version.version=$(VERSION) \
            -X $(PKG)/internal/version.commit=$(COMMIT) -X $(PKG)/internal/version.date=$(DATE)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test test-deps lint docs completions check-generated bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/repairxctl

# The README's run command: serve the API on its embedded defaults
# (https://127.0.0.1:8443, self-signed certificate and store in the data dir).
run: build
	./$(BIN) serve

# Installs what the tests need (idempotent, fast when present), then runs the
# whole suite against real services. CI=true makes a missing service a
# failure rather than a skip: after the install step nothing may be missing.
test: test-deps
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	CI=true $(GO) test -count=1 -timeout 30m ./...

test-deps:
	@bash scripts/install-test-deps.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Regenerates what is committed under docs/ and completions/; make test
# fails when they are stale.
docs:
	$(GO) run ./cmd/repairxctl generate docs --dir docs/cli
	$(GO) run ./cmd/repairxctl generate man --dir docs/man

completions:
	$(GO) run ./cmd/repairxctl generate completions --dir completions

# Fails (exit 3, listing the files) when the committed docs or completions
# are stale; make test checks the same through TestGeneratedFilesCurrent.
check-generated:
	$(GO) run ./cmd/repairxctl generate docs --dir docs/cli --check
	$(GO) run ./cmd/repairxctl generate man --dir docs/man --check
	$(GO) run ./cmd/repairxctl generate completions --dir completions --check

# Go benchmarks, then the comparisons in bench/ (they need hyperfine and
# promtool, installed here if missing, and ../shared/corpus/alert-rules).
bench: build test-deps
	@command -v hyperfine >/dev/null && command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine wrk; }
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash bench/alerts-validate.sh
	bash bench/depcost.sh
	bash bench/load.sh
	bash bench/backup.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzValidateBytes -fuzztime 5m ./internal/alerts/

clean:
	rm -rf bin dist
