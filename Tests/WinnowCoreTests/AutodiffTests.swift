import Testing
import WinnowCore
import WinnowTestSupport

@Suite struct AutodiffTests {
  @Test func squareHasGradientTwoX() {
    let x = Tensor([1, -2, 3])
    let (value, grads) = valueWithGradient(at: [x]) { xs in (xs[0] * xs[0]).sum() }
    #expect(value.scalar == 14)
    #expect(grads[0] == Tensor([2, -4, 6]))
  }

  @Test func sharedInputAccumulates() {
    // y = x·x + x  ⇒  dy/dx = 2x + 1, with x read three times.
    let (_, grads) = valueWithGradient(at: [Tensor([0.5, 2])]) { xs in (xs[0] * xs[0] + xs[0]).sum() }
    #expect(grads[0] == Tensor([2, 5]))
  }

  @Test func broadcastGradientSumsOverBroadcastAxes() {
    let a = Tensor(shape: [2, 3], repeating: 1)
    let b = Tensor([1, 2, 3])
    let (_, grads) = valueWithGradient(at: [a, b]) { xs in (xs[0] * xs[1]).sum() }
    #expect(grads[0] == Tensor(shape: [2, 3], scalars: [1, 2, 3, 1, 2, 3]))
    #expect(grads[1] == Tensor([2, 2, 2]))
  }

  @Test func unusedInputGetsZeroGradient() {
    let (_, grads) = valueWithGradient(at: [Tensor([1]), Tensor([5])]) { xs in xs[0].sum() }
    #expect(grads[1] == Tensor([0]))
  }

  @Test func untrackedComputationRecordsNothing() {
    let y = Tensor([1, 2]) * 3
    #expect(!y.isTracked)
    #expect(y.producer == nil)
  }

  @Test func deepChainDoesNotOverflowTheStack() {
    let (_, grads) = valueWithGradient(at: [Tensor([1])]) { xs in
      var y = xs[0]
      for _ in 0..<20_000 { y = y + 0 }
      return y.sum()
    }
    #expect(grads[0] == Tensor([1]))
  }
}

@Suite struct IntegerTensorTests {
  @Test func roundsToNearestEvenAndSaturates() {
    let t = IntegerTensor<Int8>(rounding: Tensor([0.5, 1.5, -2.5, 300, -300, .nan]))
    #expect(t.scalars == [0, 2, -2, 127, -128, 0])
    #expect(IntegerTensor<UInt8>(rounding: Tensor([-1, 255.4])).scalars == [0, 255])
  }

  @Test func convertsToFloatExactly() {
    let t = IntegerTensor<Int32>(shape: [2, 2], scalars: [1, -2, 3, 1 << 20])
    #expect(t.floatTensor == Tensor(shape: [2, 2], scalars: [1, -2, 3, 1_048_576]))
    #expect(t.reshaped([4]).shape == [4])
  }
}
