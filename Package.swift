// swift-tools-version:6.0
//
// Winnow: find, train, compress and run sparse sub-networks on a CPU.
// Targets depend only downward; see docs/ARCHITECTURE.md.
import PackageDescription

// No target uses unsafeFlags, so Winnow can be a versioned dependency. Numeric code is
// ~500x slower unoptimised, so the Makefile builds and tests with `-c release`.
let package = Package(
  name: "Winnow",
  platforms: [.macOS(.v13)],
  products: [
    .library(name: "Winnow", targets: ["Winnow"]),
    .library(name: "WinnowKernels", targets: ["WinnowKernels"]),
    .library(name: "WinnowCore", targets: ["WinnowCore"]),
    .library(name: "WinnowNN", targets: ["WinnowNN"]),
    .library(name: "WinnowCompression", targets: ["WinnowCompression"]),
    .library(name: "WinnowRuntime", targets: ["WinnowRuntime"]),
    .library(name: "WinnowFormats", targets: ["WinnowFormats"]),
    .executable(name: "winnow", targets: ["winnow"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // MARK: - System libraries and C
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
    .target(name: "CWinnowKernels", path: "Sources/CWinnowKernels"),

    // MARK: - Library layers (each imports only the ones above it)
    .target(
      name: "WinnowKernels",
      dependencies: [
        .target(name: "CBLAS", condition: .when(platforms: [.linux])),
        "CWinnowKernels",
      ]),
    .target(name: "WinnowCore", dependencies: ["WinnowKernels", "CZlib"]),
    .target(name: "WinnowNN", dependencies: ["WinnowCore"]),
    .target(name: "WinnowCompression", dependencies: ["WinnowNN"]),
    .target(name: "WinnowRuntime", dependencies: ["WinnowCompression"]),
    .target(name: "WinnowFormats", dependencies: ["WinnowRuntime"]),
    .target(
      name: "Winnow",
      dependencies: [
        "WinnowKernels", "WinnowCore", "WinnowNN", "WinnowCompression", "WinnowRuntime", "WinnowFormats",
      ]),
    .executableTarget(
      name: "winnow",
      dependencies: ["Winnow", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

    // MARK: - Tests
    .target(name: "WinnowTestSupport", dependencies: ["WinnowCore", "WinnowNN"], path: "Tests/WinnowTestSupport"),
    .testTarget(name: "WinnowKernelsTests", dependencies: ["WinnowKernels", "WinnowTestSupport"]),
    .testTarget(name: "WinnowCoreTests", dependencies: ["WinnowCore", "WinnowTestSupport"]),
    .testTarget(
      name: "WinnowNNTests", dependencies: ["WinnowNN", "WinnowTestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(name: "WinnowCompressionTests", dependencies: ["WinnowCompression", "WinnowTestSupport"],
                resources: [.copy("Fixtures")]),
    .testTarget(name: "WinnowRuntimeTests", dependencies: ["WinnowRuntime", "WinnowTestSupport"]),
    .testTarget(
      name: "WinnowFormatsTests", dependencies: ["WinnowFormats", "WinnowTestSupport"],
      resources: [.copy("Fixtures")]),
    // Runs the built `winnow` executable: exit codes and messages as a user sees them.
    .testTarget(name: "WinnowCLITests", dependencies: ["winnow", "WinnowNN", "WinnowFormats"]),
  ]
)
