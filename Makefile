# The two entry points of the README. Both install their own build dependencies first.
# Release builds throughout: numeric code is ~500x slower unoptimised.
.PHONY: setup demo test build bench

setup:
	@scripts/setup.sh

build: setup
	swift build -c release

demo: setup
	swift run -c release winnow demo

test: setup
	swift test -c release

# Benchmarks/ is its own package (never built by `swift build` here). Without
# --disable-build-manifest-caching SwiftPM can miss changes to this package's targets.
bench: setup
	cd Benchmarks && swift run -c release --disable-build-manifest-caching winnow-bench
