import CWinnowKernels

/// Which implementation of a packed kernel runs.
///
/// Every packed format has a portable implementation (Swift or plain C, runs anywhere) and,
/// where the CPU has the instructions, a native one (C with per-function
/// `__attribute__((target(…)))`, chosen at run time). Tests run both and compare them with
/// the slow reference; the runtime normally asks ``KernelDispatch/defaultPath``.
public enum KernelPath: String, Sendable, Hashable, CaseIterable {
  /// The portable fallback: no ISA beyond the baseline the package is compiled for.
  case portable
  /// The fastest path this CPU supports (falls back to `portable` when it has none).
  case native
}

/// CPU features the kernels dispatch on (from `winnow_cpu_features()`, detected once).
public struct CPUFeatures: OptionSet, Sendable, Hashable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static let avx2 = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AVX2))
  public static let fma = CPUFeatures(rawValue: UInt32(WINNOW_CPU_FMA))
  public static let avx512f = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AVX512F))
  public static let avx512bw = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AVX512BW))
  public static let avx512vl = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AVX512VL))
  public static let avx512vnni = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AVX512VNNI))
  public static let avx512vpopcntdq = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AVX512VPOPCNTDQ))
  /// arm64 Advanced SIMD: part of the ARMv8-A base, so present on every arm64 CPU.
  public static let neon = CPUFeatures(rawValue: UInt32(WINNOW_CPU_NEON))
  /// arm64 SDOT/UDOT (FEAT_DotProd, optional from ARMv8.2); the int8 GEMM uses it when present.
  public static let neonDotProduct = CPUFeatures(rawValue: UInt32(WINNOW_CPU_NEON_DOTPROD))
  public static let avx512bf16 = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AVX512BF16))
  /// Intel AMX tiles with TDPBUSD (AMX-TILE + AMX-INT8), the XCR0 tile states, and on Linux
  /// the process's permission to use them (requested once during detection).
  public static let amxInt8 = CPUFeatures(rawValue: UInt32(WINNOW_CPU_AMX_INT8))

  /// This processor's features, as the operating system allows them.
  public static let current = CPUFeatures(rawValue: winnow_cpu_features())
}

/// Run-time choice between native and portable kernels.
public enum KernelDispatch {
  nonisolated(unsafe) private static var portableOnly: Bool = {
    guard let value = getenv("WINNOW_PORTABLE_KERNELS") else { return false }
    return String(cString: value) == "1"
  }()

  /// When true, every packed format runs its portable kernel (also set by the environment
  /// variable `WINNOW_PORTABLE_KERNELS=1`). Set it before running kernels, not during.
  public static var forcePortable: Bool {
    get { portableOnly }
    set { portableOnly = newValue }
  }

  nonisolated(unsafe) private static var amxAllowed: Bool = {
    guard let value = getenv("WINNOW_NO_AMX") else { return true }
    return String(cString: value) != "1"
  }()

  /// False turns the AMX kernels off (also the environment variable `WINNOW_NO_AMX=1`); the
  /// AVX-512 kernels run instead. It can only turn AMX off: AMX runs only where ``CPUFeatures``
  /// has ``CPUFeatures/amxInt8``. A kill switch, because the AMX kernels have been checked only
  /// on a software model of the tile unit, never on AMX hardware. Set it before building
  /// weights and running kernels, not during.
  public static var allowsAMX: Bool {
    get { amxAllowed }
    set { amxAllowed = newValue }
  }

  /// True on arm64, where the native kernels are the NEON ones (`neon_int8.c`, `neon_sparse.c`,
  /// verified under qemu by `Utilities/NEON/run-tests.sh`) instead of the x86 ones.
  public static let usesNEON: Bool = CPUFeatures.current.contains(.neon)

  /// The path `multiply` takes when the caller does not name one.
  public static var defaultPath: KernelPath { forcePortable ? .portable : .native }

  /// True when `path` resolves to native code that needs `features` and this CPU has them.
  @inlinable
  public static func usesNative(_ path: KernelPath, requires features: CPUFeatures) -> Bool {
    path == .native && CPUFeatures.current.isSuperset(of: features)
  }
}
