extension Tensor {
  /// Same values with a new shape; one entry may be -1 to be inferred.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var target = newShape
    if let i = target.firstIndex(of: -1) {
      let known = target.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
      precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
      target[i] = count / known
    }
    if target == shape { return self }
    return .apply(.reshape(target), [self])
  }

  /// Collapses all axes from `startAxis` on into one (`N×C×H×W` → `N×(C·H·W)` by default).
  public func flattened(from startAxis: Int = 1) -> Tensor {
    reshaped(Array(shape[..<startAxis]) + [shape[startAxis...].reduce(1, *)])
  }

  /// Axes reordered: result axis `i` is axis `permutation[i]` of this tensor.
  public func permuted(_ permutation: [Int]) -> Tensor {
    if permutation == Array(0..<rank) { return self }
    return .apply(.permute(permutation), [self])
  }

  /// Swaps the last two axes.
  public func transposed() -> Tensor {
    precondition(rank >= 2, "transpose needs rank ≥ 2, got \(shape)")
    var p = Array(0..<rank)
    p.swapAt(rank - 1, rank - 2)
    return permuted(p)
  }

  /// Broadcast to `newShape`.
  public func expanded(to newShape: [Int]) -> Tensor {
    newShape == shape ? self : .apply(.expand(newShape), [self])
  }

  /// Elements `range` along `axis`.
  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    let axis = normalizedAxes([axis])[0]
    return .apply(.slice(axis: axis, range: range), [self])
  }

  /// Joins `tensors` along `axis`; all other axes must agree.
  public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of no tensors")
    let axis = tensors[0].normalizedAxes([axis])[0]
    return tensors.count == 1 ? tensors[0] : apply(.concat(axis: axis), tensors)
  }

  /// Rows of this tensor picked by `indices` (shape `indexShape`), as in an embedding lookup.
  public func gather(rows indices: [Int], indexShape: [Int]? = nil) -> Tensor {
    .apply(.gather(indices: indices.map { Int32($0) }, indexShape: indexShape ?? [indices.count]), [self])
  }

  /// Inserts a size-1 axis at `axis`.
  public func unsqueezed(axis: Int) -> Tensor {
    var s = shape
    s.insert(1, at: axis < 0 ? axis + rank + 1 : axis)
    return reshaped(s)
  }
}

extension Tensor {
  /// The entries at `indices` (in that order) along `axis`, as a new untracked tensor: how
  /// structured pruning cuts channels out of weights.
  public func selecting(_ indices: [Int], alongAxis axis: Int) -> Tensor {
    let (outer, length, inner) = split(axis: axis)
    precondition(indices.allSatisfy { $0 >= 0 && $0 < length }, "indices out of range 0..<\(length) for axis \(axis) of \(shape)")
    var newShape = shape
    newShape[axis] = indices.count
    return Tensor(shape: newShape) { dst in
      withUnsafeBufferPointer { src in
        for o in 0..<outer {
          for (j, i) in indices.enumerated() {
            (dst.baseAddress! + (o * indices.count + j) * inner).update(from: src.baseAddress! + (o * length + i) * inner, count: inner)
          }
        }
      }
    }
  }
}
