# fleetkit developer targets. `make test` is what CI runs (.ci/run).

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

# Extra arguments for `make test`, e.g. make test ARGS='-run Foo ./lifecycle/...'
ARGS ?=
# Benchmarks for `make bench`: make bench BENCH=Lock BENCHTIME=5s BENCHPKG=./store/...
BENCH ?= .
BENCHTIME ?= 1s
BENCHPKG ?= ./...
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all test demo vet lint bench fmt

all: test

# The whole suite with real PostgreSQL and redis-server (started and stopped
# by the script); go vet, then go test -race -count=1.
test:
	scripts/test.sh $(ARGS)

demo:
	$(GO) run ./examples/fleetdemo

vet:
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

# Benchmarks against the same real services, without the race detector so
# the numbers mean something (PostgreSQL keeps fsync on).
bench:
	FLEETKIT_TEST_RACE=0 scripts/test.sh -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem $(BENCHPKG)

fmt:
	$(GO) fmt ./...
