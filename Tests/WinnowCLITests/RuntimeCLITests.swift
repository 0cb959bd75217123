import Foundation
import Testing

/// `winnow compile`, `eval` of a .winnow program and `bench`, as a user runs them.
@Suite(.serialized) struct RuntimeCLITests {
  @Test func compileEvalAndBenchAProgram() throws {
    let checkpoint = scratch("runtime-mlp.ckpt"), program = scratch("runtime-mlp.winnow")
    let train = try winnow(["train", "--model", "mlp", "--epochs", "1", "--checkpoint", checkpoint, "--limit", "300"])
    #expect(train.status == 0, "\(train.stderr)")
    let compile = try winnow(["compile", checkpoint, "--output", program, "--format", "csr", "--layer", "fc1=dense"])
    #expect(compile.status == 0, "\(compile.stderr)")
    #expect(compile.stdout.contains("fc1") && compile.stdout.contains("wrote"))
    let accuracy = { (text: String) in text.components(separatedBy: "accuracy ").last?.prefix(6) }
    let evalProgram = try winnow(["eval", program]), evalModel = try winnow(["eval", checkpoint])
    #expect(evalProgram.status == 0, "\(evalProgram.stderr)")
    // Float formats change no decision: the same accuracy to the last printed digit.
    #expect(accuracy(evalProgram.stdout) == accuracy(evalModel.stdout), "\(evalProgram.stdout) vs \(evalModel.stdout)")
    let bench = try winnow(["bench", program, checkpoint, "--batch", "2", "--repetitions", "3"])
    #expect(bench.status == 0, "\(bench.stderr)")
    #expect(bench.stdout.contains("speedup") && bench.stdout.contains("total"))
  }

  @Test func badRequestsFailWithAMessage() throws {
    let checkpoint = scratch("runtime-bad.ckpt")
    _ = try winnow(["train", "--model", "mlp", "--epochs", "1", "--checkpoint", checkpoint, "--limit", "100"])
    let unknownLayer = try winnow(["compile", checkpoint, "--output", scratch("x.winnow"), "--layer", "fc9=csr"])
    #expect(unknownLayer.status != 0 && unknownLayer.stderr.contains("fc9"))
    let badFormat = try winnow(["compile", checkpoint, "--output", scratch("x.winnow"), "--format", "coo"])
    #expect(badFormat.status != 0 && badFormat.stderr.contains("coo"))
    let noKernel = try winnow(["compile", checkpoint, "--output", scratch("x.winnow"), "--quantize", "fp8-e4m3"])
    #expect(noKernel.status != 0 && noKernel.stderr.contains("fc1"), "\(noKernel.stderr)")
    let truncated = scratch("truncated.winnow")
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: truncated))
    let eval = try winnow(["eval", truncated])
    #expect(eval.status != 0 && eval.stderr.contains("truncated.winnow"))
    let bench = try winnow(["bench", scratch("missing.winnow")])
    #expect(bench.status != 0 && bench.stderr.contains("missing.winnow"))
  }
}
