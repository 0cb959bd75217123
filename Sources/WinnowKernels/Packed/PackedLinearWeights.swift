/// What a kernel applies to its output tile before storing it (fused epilogue).
public enum EpilogueActivation: String, Sendable, Hashable, CaseIterable {
  case none
  case relu

  /// Applies the activation to `count` values in place (the unfused path and the reference).
  @inlinable
  public func apply(_ y: UnsafeMutablePointer<Float>, count: Int) {
    switch self {
    case .none: return
    // A select, not a branch: the loop vectorises and random signs cost no mispredictions.
    case .relu: for i in 0..<count { y[i] = y[i] > 0 ? y[i] : 0 }
    }
  }
}

/// The weights of one linear map packed for inference in some storage format.
///
///     Y[M×N] = activation(X[M×K] · Wᵀ + bias)      (W: N×K, bias: N values or nil)
///
/// `x` holds `M·K` values row-major, `y` receives `M·N` values row-major (output only).
/// Every format takes and returns Float32; formats with integer weights quantize the
/// activations inside `multiply` (dynamically or with a stored scale). The runtime compiles
/// every Linear and convolution (through im2col, or directly for 1×1) into one of these.
public protocol PackedLinearWeights: Sendable {
  /// Output features `N` (rows of `W`).
  var outputFeatures: Int { get }
  /// Input features `K` (columns of `W`).
  var inputFeatures: Int { get }
  /// Kernel descriptor, what then how: `f32_gemm__blas`, `f32_spmm_csr_1x32__simd8`.
  var kernelName: String { get }
  /// Bytes of packed weight data (values, indices, scales), without bias.
  var packedByteCount: Int { get }
  /// `y = activation(x · Wᵀ + bias)`; may split work over `Parallelism.threads`.
  func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>)
  /// ``multiply(_:m:bias:activation:into:)`` on a chosen implementation: tests run `.portable`
  /// and `.native` and compare both with the reference. The plain `multiply` takes
  /// ``KernelDispatch/defaultPath``.
  func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath)
  /// The kernel descriptor of `path` on this CPU (``kernelName`` is that of the default path).
  func kernelName(for path: KernelPath) -> String
  /// The same product in transposed layout, the layout of an unfolded `C×H×W` image:
  ///
  ///     Yᵀ[N×M] = activation(W · Xᵀ[K×M] + bias)
  ///
  /// `xT` holds `K·M` values row-major (row `k` = feature `k` of all `M` columns) and `yT`
  /// receives `N·M`. Formats without a native version get one that transposes around
  /// ``multiply(_:m:bias:activation:into:)``.
  func multiplyTransposed(
    _ xT: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into yT: UnsafeMutablePointer<Float>)
}

extension PackedLinearWeights {
  /// Formats with a single implementation ignore the path.
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    multiply(x, m: m, bias: bias, activation: activation, into: y)
  }
  public func kernelName(for path: KernelPath) -> String { kernelName }
  public func multiplyTransposed(
    _ xT: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into yT: UnsafeMutablePointer<Float>
  ) {
    let n = outputFeatures, k = inputFeatures
    guard m > 0, n > 0 else { return }
    let x = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
    let y = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    defer { x.deallocate(); y.deallocate() }
    transposeMatrix(xT, rows: k, columns: m, into: x)
    multiply(x, m: m, bias: bias, activation: activation, into: y)
    transposeMatrix(y, rows: m, columns: n, into: yT)
  }
}

/// `b[j, i] = a[i, j]` for row-major `a` (`rows × columns`), in cache-sized tiles.
public func transposeMatrix(_ a: UnsafePointer<Float>, rows: Int, columns: Int, into b: UnsafeMutablePointer<Float>) {
  let tile = 32
  for i0 in stride(from: 0, to: rows, by: tile) {
    for j0 in stride(from: 0, to: columns, by: tile) {
      for i in i0..<min(i0 + tile, rows) {
        for j in j0..<min(j0 + tile, columns) { b[j * rows + i] = a[i * columns + j] }
      }
    }
  }
}

/// Dense Float32 weights on the platform BLAS: the baseline every packed format is timed against.
public struct DenseLinearWeights: PackedLinearWeights, Equatable {
  public let outputFeatures: Int
  public let inputFeatures: Int
  /// `W` row-major, `N×K`.
  public let values: [Float]

  public init(values: [Float], outputFeatures: Int, inputFeatures: Int) {
    precondition(values.count == outputFeatures * inputFeatures, "dense weights: \(values.count) values for \(outputFeatures)×\(inputFeatures)")
    self.values = values
    self.outputFeatures = outputFeatures
    self.inputFeatures = inputFeatures
  }

  public var kernelName: String { "f32_gemm__blas" }
  public var packedByteCount: Int { values.count * MemoryLayout<Float>.size }

  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    let n = outputFeatures, k = inputFeatures
    guard m > 0, n > 0 else { return }
    values.withUnsafeBufferPointer { w in
      if let bias {
        for i in 0..<m { (y + i * n).update(from: bias, count: n) }
      }
      sgemm(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: x, lda: k,
            b: w.baseAddress!, ldb: k, beta: bias == nil ? 0 : 1, c: y, ldc: n)
    }
    activation.apply(y, count: m * n)
  }

  /// `Yᵀ = W·Xᵀ` straight from BLAS: no transposes.
  public func multiplyTransposed(
    _ xT: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into yT: UnsafeMutablePointer<Float>
  ) {
    let n = outputFeatures, k = inputFeatures
    guard m > 0, n > 0 else { return }
    values.withUnsafeBufferPointer { w in
      if let bias {
        for j in 0..<n { (yT + j * m).update(repeating: bias[j], count: m) }
      }
      sgemm(transposeA: false, transposeB: false, m: n, n: m, k: k, alpha: 1, a: w.baseAddress!, lda: k,
            b: xT, ldb: m, beta: bias == nil ? 0 : 1, c: yT, ldc: m)
    }
    activation.apply(yT, count: m * n)
  }
}

extension CSRMatrix: PackedLinearWeights {
  public var outputFeatures: Int { rows }
  public var inputFeatures: Int { columns }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  public var packedByteCount: Int { values.count * 8 + rowOffsets.count * 4 }
  public func kernelName(for path: KernelPath) -> String {
    usesNativeSpMM(path) ? SpMMKernel.native(for: .csr(self)).name : SpMMKernel.csr.name
  }
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    multiply(x, m: m, bias: bias, activation: activation, into: y, path: KernelDispatch.defaultPath)
  }
  /// Native: the AVX-512 (or arm64 NEON) kernel with the epilogue fused; portable: the Swift SIMD8 kernel,
  /// then the activation in a second pass.
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    if usesNativeSpMM(path) {
      spmmNative(.csr(self), x: x, m: m, bias: bias, activation: activation, y: y)
    } else {
      spmm(self, x: x, m: m, bias: bias, y: y)
      activation.apply(y, count: m * rows)
    }
  }
  private func usesNativeSpMM(_ path: KernelPath) -> Bool {
    path == .native && spmmNativeSupports(.csr(self))
  }

  /// `Yᵀ = W·Xᵀ` row by row of `W` (see ``csrTransposedProduct``): no transposes.
  public func multiplyTransposed(
    _ xT: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into yT: UnsafeMutablePointer<Float>
  ) {
    rowOffsets.withUnsafeBufferPointer { offsets in
      columnIndices.withUnsafeBufferPointer { indices in
        values.withUnsafeBufferPointer { vals in
          csrTransposedProduct(
            offsets: offsets, indices: indices, values: vals, toFloat: { $0 }, scales: nil, rows: rows,
            xT: xT, m: m, bias: bias, activation: activation, into: yT)
        }
      }
    }
  }
}

extension BSRMatrix: PackedLinearWeights {
  public var outputFeatures: Int { rows }
  public var inputFeatures: Int { columns }
  public var kernelName: String { kernelName(for: KernelDispatch.defaultPath) }
  public var packedByteCount: Int { values.count * 4 + blockColumnIndices.count * 4 + blockRowOffsets.count * 4 }
  public func kernelName(for path: KernelPath) -> String {
    let native = KernelDispatch.usesNEON ? "neon" : "avx512"
    return "f32_spmm_bsr_\(blockRows)x\(blockColumns)__" + (usesNativeSpMM(path) ? native : "simd8")
  }
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>
  ) {
    multiply(x, m: m, bias: bias, activation: activation, into: y, path: KernelDispatch.defaultPath)
  }
  public func multiply(
    _ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, activation: EpilogueActivation,
    into y: UnsafeMutablePointer<Float>, path: KernelPath
  ) {
    if usesNativeSpMM(path) {
      spmmNative(.bsr(self), x: x, m: m, bias: bias, activation: activation, y: y)
    } else {
      spmm(self, x: x, m: m, bias: bias, y: y)
      activation.apply(y, count: m * rows)
    }
  }
  private func usesNativeSpMM(_ path: KernelPath) -> Bool {
    path == .native && spmmNativeSupports(.bsr(self))
  }
}
