# dcnet: build, test, benchmark and demo on one machine.
# Privileged tests run in network namespaces they make themselves and never
# touch the host namespace (DESIGN.md, "Testing on one machine").
# GOFLAGS from the environment or the command line reach every go command.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO  ?= go
BIN := $(CURDIR)/bin

# Main packages: whichever of these trees exist yet.
CMD_DIRS := overlayd/cmd plugins/cmd ctl/cmd cnm/cmd l4lb/cmd dns/cmd l7lb/cmd
CMD_PKGS := $(foreach d,$(CMD_DIRS),$(if $(wildcard $(d)),./$(d)/...))

TEST_TIMEOUT := 30m
TEST_LOG     := $(BIN)/test.log

.PHONY: all build deps test test-unit bench demo clean

all: build

build:
ifeq ($(strip $(CMD_PKGS)),)
	@echo "build: no main packages yet"
else
	@mkdir -p $(BIN)/ref
	$(GO) build -o $(BIN)/ $(CMD_PKGS)
endif
	$(GO) build -o $(BIN)/ github.com/containernetworking/cni/cnitool
	$(GO) build -o $(BIN)/ref/ github.com/containernetworking/plugins/plugins/main/bridge github.com/containernetworking/plugins/plugins/ipam/host-local

deps:
	bash scripts/deps.sh

# Vet, then every test; as root the TestPrivileged... tests run too. The full
# verbose log goes to bin/test.log; the terminal gets it without the
# "=== RUN" lines, then one summary line.
test: deps build
	$(GO) vet ./...
	@if [ "$$(id -u)" -ne 0 ]; then echo "test: not root: TestPrivileged... tests will skip"; fi
	@mkdir -p $(BIN)
	@set +e; \
	$(GO) test -v -count=1 -timeout $(TEST_TIMEOUT) ./... > $(TEST_LOG) 2>&1; rc=$$?; \
	grep -v -E '^\s*=== (RUN|PAUSE|CONT|NAME)' $(TEST_LOG); \
	passed=$$(grep -c -E '^\s*--- PASS' $(TEST_LOG)); \
	failed=$$(grep -c -E '^\s*--- FAIL|^FAIL\s.*\[(build|setup) failed\]' $(TEST_LOG)); \
	skipped=$$(grep -c -E '^\s*--- SKIP' $(TEST_LOG)); \
	if [ $$rc -ne 0 ] && [ $$failed -eq 0 ]; then failed=1; fi; \
	echo "test: $$passed passed, $$failed failed, $$skipped skipped"; \
	exit $$rc

test-unit:
	$(GO) test -short -count=1 ./...

# CoreDNS, the anchor of bench/dns, from the module proxy (outside go.mod).
bin/coredns:
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/coredns/coredns@v1.12.4

# Runs every bench/<name>/main.go in turn; each prints its own ratios.
bench: deps build bin/coredns
	@found=0; \
	for main in bench/*/main.go; do \
		[ -e "$$main" ] || continue; \
		dir=$$(dirname "$$main"); found=1; \
		echo "bench: $$dir"; \
		$(GO) run ./$$dir; \
	done; \
	if [ $$found -eq 0 ]; then echo "bench: no bench/<name>/main.go yet"; fi

demo: deps build
	@if [ ! -f scripts/demo.sh ]; then echo "demo: scripts/demo.sh does not exist yet" >&2; exit 1; fi
	bash scripts/demo.sh

clean:
	rm -rf $(BIN)
