// swift-tools-version:6.0
//
// Winnow's benchmarks: a separate package so `swift build` at the root never builds them.
// Run with `make bench` or `cd Benchmarks && swift run -c release winnow-bench --help`.
import PackageDescription

let package = Package(
  name: "WinnowBenchmarks",
  platforms: [.macOS(.v13)],
  dependencies: [
    .package(name: "Winnow", path: ".."),
  ],
  targets: [
    // The BLAS baseline, called directly (not through WinnowKernels) so GEMM ratios compare
    // the library with the raw cblas_sgemm on the same shapes.
    .systemLibrary(
      name: "CRawBLAS", path: "Sources/CRawBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .executableTarget(
      name: "winnow-bench",
      dependencies: [
        .product(name: "Winnow", package: "Winnow"),
        .product(name: "WinnowKernels", package: "Winnow"),
        .target(name: "CRawBLAS", condition: .when(platforms: [.linux])),
      ]),
  ]
)
