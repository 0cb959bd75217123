# The two entry points of the README. Both install their own build dependencies first.
# Release builds throughout: numeric code is ~500x slower unoptimised.
.PHONY: setup demo test test-neon build bench

setup:
	@scripts/setup.sh

build: setup
	swift build -c release

demo: setup
	swift run -c release winnow demo

# The arm64 NEON kernels are checked in C under qemu-aarch64 after the Swift tests
# (Utilities/NEON/run-tests.sh; ~10 s, plus ~1 min to install the cross tools the first time;
# WINNOW_SKIP_NEON=1 skips it). See docs/PERFORMANCE.md, "arm64 / NEON".
test: setup
	swift test -c release
	Utilities/NEON/run-tests.sh

test-neon:
	Utilities/NEON/run-tests.sh

# Benchmarks/ is its own package (never built by `swift build` here). Without
# --disable-build-manifest-caching SwiftPM can miss changes to this package's targets.
bench: setup
	cd Benchmarks && swift run -c release --disable-build-manifest-caching winnow-bench
