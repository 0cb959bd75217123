import WinnowKernels

/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random choice in Winnow takes one of these explicitly, so the same seed gives the
/// same result. Its whole state is four words, saved in checkpoints for exact resumption.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Hashable, Codable {
  public private(set) var state: [UInt64]

  public init(seed: UInt64) {
    var s = seed
    state = (0..<4).map { _ in splitMix64(&s) }
  }

  /// Restores a generator from its saved ``state`` (four words, not all zero).
  public init?(state: [UInt64]) {
    guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
    self.state = state
  }

  public mutating func next() -> UInt64 {
    let result = rotl(state[1] &* 5, 7) &* 9
    let t = state[1] << 17
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = rotl(state[3], 45)
    return result
  }

  /// Uniform in [0, 1) with 24 random bits.
  public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

  public mutating func nextFloat(in range: ClosedRange<Float>) -> Float {
    range.lowerBound + (range.upperBound - range.lowerBound) * nextUnitFloat()
  }

  /// Standard normal sample (Box–Muller on two uniforms).
  public mutating func nextNormal() -> Float {
    let u1 = Double(next() >> 11) * 0x1p-53
    let u2 = Double(next() >> 11) * 0x1p-53
    let r = (-2 * log(max(u1, 1e-300))).squareRoot()
    return Float(r * cos(2 * Double.pi * u2))
  }

  /// A new generator derived from this one, for independent streams (e.g. per worker).
  public mutating func split() -> RandomGenerator { RandomGenerator(seed: next()) }

  /// A random permutation of `0..<n` (Fisher–Yates).
  public mutating func permutation(_ n: Int) -> [Int] {
    var p = Array(0..<n)
    if n > 1 {
      for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(next() % UInt64(i + 1))
        p.swapAt(i, j)
      }
    }
    return p
  }
}

@inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

private func splitMix64(_ s: inout UInt64) -> UInt64 {
  s &+= 0x9E37_79B9_7F4A_7C15
  var z = s
  z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
  z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
  return z ^ (z >> 31)
}
