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

# Linux-only packages: kernel access (netlink, netns, nftables) or code that
# runs in namespaces. Every other package must vet for another OS too
# (vet-portable), which keeps pure planning code out of _linux.go files; a
# new kernel package is added here.
MODULE      := github.com/dcnet/dcnet
KERNEL_PKGS := internal/netsim internal/clustersim internal/benchkit internal/e2e internal/haproxytest internal/zktest bench/.* \
	cnm/cnmtest plugins/internal/nstest plugins/veth plugins/dcnet plugins/cmd/dcnet plugins/portmap plugins/cmd/dcnet-portmap \
	plugins/vipaccess plugins/cmd/dcnet-vipaccess \
	dns/spartan dns/cmd/dcnet-dns overlayd overlayd/cmd/overlayd l4lb/cmd/dcnet-l4lb
space       := $(subst ,, )
KERNEL_RE   := ^$(MODULE)/($(subst $(space),|,$(strip $(KERNEL_PKGS))))$$

.PHONY: all build deps test test-unit vet-portable bench demo clean

all: build

build:
ifeq ($(strip $(CMD_PKGS)),)
	@echo "build: no main packages yet"
else
	@mkdir -p $(BIN)/ref
	$(GO) build -o $(BIN)/ $(CMD_PKGS)
endif
	$(GO) build -o $(BIN)/ github.com/containernetworking/cni/cnitool
	$(GO) build -o $(BIN)/ref/ github.com/containernetworking/plugins/plugins/main/bridge github.com/containernetworking/plugins/plugins/ipam/host-local github.com/containernetworking/plugins/plugins/meta/portmap

deps:
	bash scripts/deps.sh

# Vet, then every test; as root the TestPrivileged... tests run too. The full
# verbose log goes to bin/test.log; the terminal gets it without the
# "=== RUN" lines, then one summary line.
test: deps build vet-portable
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

# Vets every package but the kernel ones (KERNEL_PKGS) for macOS.
vet-portable:
	@pkgs=$$($(GO) list ./... | grep -v -E '$(KERNEL_RE)'); \
	echo "vet-portable: GOOS=darwin go vet of $$(wc -w <<< "$$pkgs") packages (all but KERNEL_PKGS)"; \
	GOOS=darwin $(GO) vet $$pkgs

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
