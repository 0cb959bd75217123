/// Sparse weights of a linear layer in one of the stored formats.
public enum SparseWeights: Sendable {
  case csr(CSRMatrix)
  case bsr(BSRMatrix)

  /// Output features `N` (rows of `W`).
  public var rows: Int {
    switch self {
    case .csr(let w): w.rows
    case .bsr(let w): w.rows
    }
  }
  /// Input features `K` (columns of `W`).
  public var columns: Int {
    switch self {
    case .csr(let w): w.columns
    case .bsr(let w): w.columns
    }
  }
}

/// The reference sparse linear layer: the oracle every fast SpMM kernel is tested against.
///
///     Y[M×N] = X[M×K] · Wᵀ + bias      (W: N×K sparse, bias: N values or nil)
///
/// `x` holds `M·K` values row-major, `y` receives `M·N` values row-major (output only).
/// Accumulates in `Double` over the stored entries. O(M·nnz).
public func spmmReference(
  _ w: SparseWeights, x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?,
  y: UnsafeMutablePointer<Float>
) {
  let n = w.rows, k = w.columns
  for i in 0..<m {
    let row = x + i * k
    for j in 0..<n {
      var acc: Double = bias.map { Double($0[j]) } ?? 0
      switch w {
      case .csr(let a):
        for t in Int(a.rowOffsets[j])..<Int(a.rowOffsets[j + 1]) {
          acc += Double(a.values[t]) * Double(row[Int(a.columnIndices[t])])
        }
      case .bsr(let b):
        let blockRow = j / b.blockRows, r = j % b.blockRows, size = b.blockRows * b.blockColumns
        for t in Int(b.blockRowOffsets[blockRow])..<Int(b.blockRowOffsets[blockRow + 1]) {
          let c0 = Int(b.blockColumnIndices[t]) * b.blockColumns
          for c in 0..<b.blockColumns where c0 + c < k {
            acc += Double(b.values[t * size + r * b.blockColumns + c]) * Double(row[c0 + c])
          }
        }
      }
      y[i * n + j] = Float(acc)
    }
  }
}

/// A named sparse-weight × dense-activation kernel; every entry is tested against
/// ``spmmReference(_:x:m:bias:y:)`` on each weight format it accepts.
///
/// Arguments of `run`: weights, `x` (`M×K`), `M`, bias (`N` values or nil), `y` (`M×N`).
public struct SpMMKernel: Sendable {
  public typealias Function = @Sendable (
    SparseWeights, UnsafePointer<Float>, Int, UnsafePointer<Float>?, UnsafeMutablePointer<Float>
  ) -> Void
  public let name: String
  /// Whether `run` takes weights in this format.
  public let accepts: @Sendable (SparseWeights) -> Bool
  public let run: Function

  public static let reference = SpMMKernel(name: "f32_spmm__reference", accepts: { _ in true }) {
    spmmReference($0, x: $1, m: $2, bias: $3, y: $4)
  }
  /// CSR, one output row × 32 tokens per register tile (``spmm(_:x:m:bias:y:)-(CSRMatrix,_,_,_,_)``).
  public static let csr = SpMMKernel(
    name: "f32_spmm_csr_1x32__simd8",
    accepts: { if case .csr = $0 { true } else { false } }
  ) {
    guard case .csr(let w) = $0 else { preconditionFailure("f32_spmm_csr_1x32__simd8 takes CSR weights") }
    spmm(w, x: $1, m: $2, bias: $3, y: $4)
  }
  /// BSR with any block size, one output row × 32 tokens per register tile.
  public static let bsr = SpMMKernel(
    name: "f32_spmm_bsr_1x32__simd8",
    accepts: { if case .bsr = $0 { true } else { false } }
  ) {
    guard case .bsr(let w) = $0 else { preconditionFailure("f32_spmm_bsr_1x32__simd8 takes BSR weights") }
    spmm(w, x: $1, m: $2, bias: $3, y: $4)
  }
  /// CSR on AVX-512, 64 tokens per register tile, fused epilogue (`spmm_avx512.c`).
  public static let csrAVX512 = SpMMKernel(
    name: "f32_spmm_csr_1x64__avx512",
    accepts: { if case .csr = $0 { spmmNativeSupports($0) && !KernelDispatch.usesNEON } else { false } }
  ) {
    spmmNative($0, x: $1, m: $2, bias: $3, activation: .none, y: $4)
  }
  /// BSR on AVX-512: up to 8 rows of a block row × 32–64 tokens per register tile.
  public static let bsrAVX512 = SpMMKernel(
    name: "f32_spmm_bsr_8x32__avx512",
    accepts: { if case .bsr = $0 { spmmNativeSupports($0) && !KernelDispatch.usesNEON } else { false } }
  ) {
    spmmNative($0, x: $1, m: $2, bias: $3, activation: .none, y: $4)
  }
  /// CSR on arm64 NEON, 8 tokens per register tile, fused epilogue (`neon_sparse.c`).
  public static let csrNEON = SpMMKernel(
    name: "f32_spmm_csr_1x8__neon",
    accepts: { if case .csr = $0 { KernelDispatch.usesNEON } else { false } }
  ) {
    spmmNative($0, x: $1, m: $2, bias: $3, activation: .none, y: $4)
  }
  /// BSR on arm64 NEON: up to 8 rows of a block row × 8 tokens per register tile.
  public static let bsrNEON = SpMMKernel(
    name: "f32_spmm_bsr_8x8__neon",
    accepts: { if case .bsr = $0 { KernelDispatch.usesNEON } else { false } }
  ) {
    spmmNative($0, x: $1, m: $2, bias: $3, activation: .none, y: $4)
  }
  /// The native kernel of `w`'s format on this CPU's architecture.
  static func native(for w: SparseWeights) -> SpMMKernel {
    switch w {
    case .csr: KernelDispatch.usesNEON ? .csrNEON : .csrAVX512
    case .bsr: KernelDispatch.usesNEON ? .bsrNEON : .bsrAVX512
    }
  }
  /// Every fast implementation this CPU runs (the reference is not in this list).
  public static let all: [SpMMKernel] =
    [.csr, .bsr] + (KernelDispatch.usesNEON ? [.csrNEON, .bsrNEON]
      : CPUFeatures.current.contains(.avx512f) ? [.csrAVX512, .bsrAVX512] : [])
}

// MARK: - Shared pieces of the fast kernels

// Token tiles: 32 tokens (4 × SIMD8 accumulators, 8 SSE registers) per output row, then 8
// (padded with zero tokens) for the remainder of M. A 16-token tile measured no better.

/// Below this many remaining tokens, the kernels take dot products straight from `X` instead
/// of padding a narrow tile (at `M = 1`, padding to 8 would do 8× the work).
@usableFromInline let spmmMinimumNarrowTokens = 4

/// Packs tokens `m0 ..< m0 + count` of `x` (`M×K` row-major) transposed into `panel`
/// (`kPadded × width`): `panel[k·width + j] = x[m0 + j, k]`, zero for `j ≥ count` or `k ≥ K`.
/// Each nonzero weight then updates `width` contiguous tokens.
@inline(__always)
func packTokenPanel(
  _ x: UnsafePointer<Float>, k: Int, m0: Int, count: Int, width: Int, kPadded: Int,
  into panel: UnsafeMutablePointer<Float>
) {
  panel.update(repeating: 0, count: kPadded * width)
  for j in 0..<count {
    let row = x + (m0 + j) * k
    for p in 0..<k { panel[p * width + j] = row[p] }
  }
}

/// The per-row kernels of one sparse format, driven over token panels by ``runTokenPanels``.
protocol SparseRowKernels {
  var n: Int { get }
  var k: Int { get }
  /// Row `row` for the 32 tokens of `panel` (stride 32).
  func tile32(_ row: Int, panel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, m0: Int)
  /// Row `row` for the first `count ≤ 8` tokens of `panel` (stride 8).
  func tile8(_ row: Int, panel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, m0: Int, count: Int)
  /// Row `row` for one token, as a sparse dot product.
  func dot(_ row: Int, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>)
}

/// Runs output rows `rows` for all `m` tokens: 32-token panels, then padded 8-token panels,
/// then plain dot products for the last few tokens (so `M = 1` is not padded). The panel has
/// `kPadded ≥ K` rows; rows past `K` are zero (block formats read them).
@inline(__always)
func runTokenPanels<Kernels: SparseRowKernels>(
  _ kernels: Kernels, rows: Range<Int>, kPadded: Int, x: UnsafePointer<Float>, m: Int,
  bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
) {
  let (n, k) = (kernels.n, kernels.k)
  let width = 32, narrow = 8  // the panel strides of tile32 and tile8
  withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, kPadded * width)) { buffer in
    let panel = buffer.baseAddress!
    var m0 = 0
    while m - m0 >= width {
      packTokenPanel(x, k: k, m0: m0, count: width, width: width, kPadded: kPadded, into: panel)
      for row in rows { kernels.tile32(row, panel: panel, bias: bias, y: y, m0: m0) }
      m0 += width
    }
    while m - m0 >= spmmMinimumNarrowTokens {
      let count = min(narrow, m - m0)
      packTokenPanel(x, k: k, m0: m0, count: count, width: narrow, kPadded: kPadded, into: panel)
      for row in rows { kernels.tile8(row, panel: panel, bias: bias, y: y, m0: m0, count: count) }
      m0 += count
    }
    for token in m0..<m {
      for row in rows { kernels.dot(row, x: x + token * k, bias: bias, y: y + token * n) }
    }
  }
}

/// How many output rows make one parallel chunk worth a thread (~64 K multiply–adds).
@inline(__always)
func spmmRowGrain(rows: Int, multiplyAdds: Int) -> Int {
  max(1, 65_536 * rows / max(1, multiplyAdds))
}

@inline(__always)
func loadSIMD8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
  UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

/// Writes `values + bias` to `count` tokens of one output column: `y[(m0 + j)·n + column]`.
@inline(__always)
func storeColumn(
  _ values: SIMD8<Float>, _ bias: Float, y: UnsafeMutablePointer<Float>, n: Int, column: Int,
  m0: Int, count: Int = 8
) {
  for j in 0..<count { y[(m0 + j) * n + column] = values[j] + bias }
}
