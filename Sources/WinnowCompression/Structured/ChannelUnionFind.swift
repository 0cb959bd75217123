/// Union-find over the channel positions of every tensor in a traced graph: position
/// `(tensor, axis, index)` is one element. Coupled positions (a convolution's output channel
/// and the next layer's input channel, both sides of a residual addition, …) end up in one
/// set; positions that may not be removed independently are pinned.
struct ChannelUnionFind {
  private var parent: [Int32] = []
  private var rank: [UInt8] = []
  private(set) var pinned: [Bool] = []

  /// Adds `count` new elements and returns the first one's id.
  mutating func add(_ count: Int) -> Int {
    let first = parent.count
    parent.append(contentsOf: (first..<(first + count)).map { Int32($0) })
    rank.append(contentsOf: repeatElement(0, count: count))
    pinned.append(contentsOf: repeatElement(false, count: count))
    return first
  }

  mutating func find(_ x: Int) -> Int {
    var root = x
    while Int(parent[root]) != root { root = Int(parent[root]) }
    var node = x
    while Int(parent[node]) != root {
      let next = Int(parent[node])
      parent[node] = Int32(root)
      node = next
    }
    return root
  }

  mutating func union(_ a: Int, _ b: Int) {
    let (ra, rb) = (find(a), find(b))
    if ra == rb { return }
    let pin = pinned[ra] || pinned[rb]
    if rank[ra] < rank[rb] {
      parent[ra] = Int32(rb)
      pinned[rb] = pin
    } else {
      parent[rb] = Int32(ra)
      pinned[ra] = pin
      if rank[ra] == rank[rb] { rank[ra] += 1 }
    }
  }

  mutating func pin(_ x: Int) {
    let r = find(x)
    pinned[r] = true
  }

  mutating func isPinned(_ x: Int) -> Bool { pinned[find(x)] }
}
