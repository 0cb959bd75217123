import Foundation
import Testing
import WinnowCore
import WinnowNN

/// Runs the `winnow` executable built next to this test binary.
func winnow(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
  let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  var executable = directory.appendingPathComponent("winnow")
  if !FileManager.default.fileExists(atPath: executable.path) {
    executable = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("winnow")
  }
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  let out = Pipe(), err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  let errData = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

func scratch(_ name: String) -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-cli-tests-\(getpid())")
  try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return dir.appendingPathComponent(name).path
}

@Suite(.serialized) struct CLITests {
  @Test func helpNamesEveryCommand() throws {
    let r = try winnow(["--help"])
    #expect(r.status == 0)
    for command in ["demo", "train", "eval", "info"] { #expect(r.stdout.contains(command)) }
  }

  @Test func trainHelpExplainsOptions() throws {
    let r = try winnow(["help", "train"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("--checkpoint") && r.stdout.contains("--resume") && r.stdout.contains("fashion-mnist"))
  }

  @Test func demoTrainsAndReportsAccuracy() throws {
    let r = try winnow(["demo", "--epochs", "2"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("test accuracy"))
  }

  @Test func trainEvalInfoRoundTrip() throws {
    let checkpoint = scratch("mlp.ckpt")
    let train = try winnow(["train", "--model", "mlp", "--epochs", "1", "--checkpoint", checkpoint, "--limit", "300"])
    #expect(train.status == 0, "\(train.stderr)")
    let eval = try winnow(["eval", checkpoint])
    #expect(eval.status == 0, "\(eval.stderr)")
    #expect(eval.stdout.contains("accuracy"))
    let info = try winnow(["info", checkpoint])
    #expect(info.status == 0)
    #expect(info.stdout.contains("model.fc1.weight") && info.stdout.contains("Winnow checkpoint"))
  }

  @Test func missingFileFailsWithItsName() throws {
    let r = try winnow(["info", "/nonexistent/model.safetensors"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("/nonexistent/model.safetensors"))
  }

  @Test func truncatedSafetensorsFailsCleanly() throws {
    let path = scratch("truncated.safetensors")
    let bytes = SafetensorsFile(tensors: ["w": Tensor.zeros([64])]).encode()
    try writeFileAtomically(Array(bytes.prefix(bytes.count - 10)), to: path)
    let r = try winnow(["info", path])
    #expect(r.status != 0)
    #expect(r.stderr.contains(path))
  }

  @Test func checkpointWithWrongShapeNamesParameter() throws {
    let checkpoint = scratch("wrong.ckpt")
    #expect(try winnow(["train", "--model", "mlp", "--epochs", "1", "--checkpoint", checkpoint, "--limit", "64"]).status == 0)
    var file = try SafetensorsFile.read(path: checkpoint)
    file.tensors["model.fc2.weight"] = Tensor.zeros([64, 127])
    try file.write(path: checkpoint)
    let r = try winnow(["eval", checkpoint])
    #expect(r.status != 0)
    #expect(r.stderr.contains("fc2.weight") && r.stderr.contains("127"))
  }

  @Test func missingDataDirectorySaysWhereToGetIt() throws {
    let r = try winnow(["train", "--data", "fashion-mnist", "--data-dir", "/nonexistent-dir", "--epochs", "1"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("dataset-fashion-mnist"))
  }

  @Test func truncatedIDXFailsCleanly() throws {
    let dir = scratch("idx")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let images = IDXArray(elementType: .uint8, shape: [4, 28, 28], values: [Float](repeating: 0, count: 4 * 784))
    let labels = IDXArray(elementType: .uint8, shape: [4], values: [0, 1, 2, 3])
    for prefix in ["train", "t10k"] {
      try writeFileAtomically(Array(images.encode().dropLast(100)), to: dir + "/\(prefix)-images-idx3-ubyte")
      try writeFileAtomically(labels.encode(), to: dir + "/\(prefix)-labels-idx1-ubyte")
    }
    let r = try winnow(["train", "--data", "fashion-mnist", "--data-dir", dir, "--epochs", "1"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("train-images-idx3-ubyte"))
  }

  @Test(arguments: [["train", "--epochs", "0"], ["train", "--model", "vgg"], ["train", "--optimizer", "lion"],
                    ["train", "--lr", "-1"], ["train", "--resume"], ["train", "--data", "cifar"]])
  func badOptionsAreRejected(arguments: [String]) throws {
    let r = try winnow(arguments)
    #expect(r.status != 0)
    #expect(!r.stderr.isEmpty)
  }
}

@Suite(.serialized) struct PruneCLITests {
  private func trainedCheckpoint() throws -> String {
    let checkpoint = scratch("prune-base.ckpt")
    if !FileManager.default.fileExists(atPath: checkpoint) {
      let r = try winnow(["train", "--model", "mlp", "--epochs", "2", "--checkpoint", checkpoint])
      #expect(r.status == 0, "\(r.stderr)")
    }
    return checkpoint
  }

  @Test func magnitudePruneFineTuneAndSave() throws {
    let base = try trainedCheckpoint()
    let out = scratch("pruned.ckpt"), plan = scratch("plan.json")
    let r = try winnow(["prune", base, "--sparsity", "0.8", "--global", "--finetune-epochs", "1", "--output", out, "--save-plan", plan])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("fine-tuned") && r.stdout.contains("masked layers: 80.0%"))
    // The saved plan re-applies to the dense model, and the pruned checkpoint still evaluates.
    let again = try winnow(["prune", base, "--plan", plan])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(try winnow(["eval", out]).status == 0)
  }

  @Test(arguments: [["--sparsity", "1.0"], ["--sparsity", "-0.5"], ["--method", "nm", "--pattern", "2:3"],
                    ["--method", "nm", "--pattern", "x"], ["--method", "prune-everything"], ["--method", "gradual"],
                    ["--method", "channels", "--ratio", "1"]])
  func badRequestsFailWithAMessage(arguments: [String]) throws {
    let r = try winnow(["prune", try trainedCheckpoint()] + arguments)
    #expect(r.status != 0)
    #expect(!r.stderr.isEmpty)
  }

  @Test func channelPruningWritesASmallerModelThatLoadsAgain() throws {
    let out = scratch("channels.ckpt")
    let r = try winnow(["prune", try trainedCheckpoint(), "--method", "channels", "--ratio", "0.5", "--output", out])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("parameters 17226 → "))
    let saved = try Checkpoint.read(path: out)
    #expect(saved.tensors["model.fc1.weight"]?.shape == [64, 64])
    let eval = try winnow(["eval", out])
    #expect(eval.status == 0, "\(eval.stderr)")
  }

  @Test func sparseTrainingFromScratchAndResume() throws {
    let checkpoint = scratch("srste.ckpt")
    let r = try winnow(["train", "--model", "mlp", "--epochs", "1", "--sparse", "srste:2:4", "--checkpoint", checkpoint, "--limit", "256"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("masked layers: 50.0%"))
    let rigl = try winnow(["train", "--model", "mlp", "--epochs", "1", "--sparse", "rigl:0.8", "--limit", "256"])
    #expect(rigl.status == 0, "\(rigl.stderr)")
    for bad in ["srste:4:4", "rigl:1.5", "prune-it"] {
      #expect(try winnow(["train", "--model", "mlp", "--epochs", "1", "--sparse", bad, "--limit", "64"]).status != 0, "\(bad)")
    }
  }

  @Test func soupKeepsSparsityAndInfoReportsPQIndex() throws {
    let pruned = scratch("soup-base.ckpt")
    #expect(try winnow(["prune", try trainedCheckpoint(), "--sparsity", "0.7", "--global", "--output", pruned]).status == 0)
    let soup = try winnow(["soup", pruned, "--ingredients", "2", "--epochs", "1", "--limit", "256"])
    #expect(soup.status == 0, "\(soup.stderr)")
    #expect(soup.stdout.contains("soup:") && soup.stdout.contains("masked layers: 70.0%"))
    let info = try winnow(["info", pruned])
    #expect(info.status == 0 && info.stdout.contains("global PQI"))
  }

  @Test func sweepRunsTrainingMethodsAndSAPPrunesInRounds() throws {
    let out = scratch("sweep-training")
    let r = try winnow(["sweep", "--model", "mlp", "--epochs", "1", "--finetune-epochs", "1", "--limit", "256", "--sparsities", "0.5",
                        "--methods", "srste,set,rigl,lottery,lottery-reinit,soup,channels-scratch", "--out", out, "--name", "t"])
    #expect(r.status == 0, "\(r.stderr)")
    for row in ["| srste 2:4 |", "| set |", "| rigl |", "| lottery |", "| lottery-reinit |", "| soup |", "| channels-scratch |"] {
      #expect(r.stdout.contains(row), "missing row \(row)")
    }
    #expect(FileManager.default.fileExists(atPath: out + "/t.svg"))
    // A sweep merged with itself is the same table; a missing file is named.
    let merged = try winnow(["sweep-merge", out + "/t.json", out + "/t.json", "--out", out, "--name", "m"])
    #expect(merged.status == 0 && merged.stdout.contains("| soup |") && FileManager.default.fileExists(atPath: out + "/m.svg"), "\(merged.stderr)")
    let missing = try winnow(["sweep-merge", out + "/t.json", out + "/none.json"])
    #expect(missing.status != 0 && missing.stderr.contains("none.json"), "\(missing.stderr)")
    let sap = try winnow(["sap", try trainedCheckpoint(), "--rounds", "2", "--finetune-epochs", "1", "--limit", "256", "--output", scratch("sap.ckpt")])
    #expect(sap.status == 0, "\(sap.stderr)")
    #expect(sap.stdout.contains("round 1: PQ Index") && sap.stdout.contains("round 2: PQ Index") && sap.stdout.contains("SAP: 2 round(s)"))
    #expect(try winnow(["eval", scratch("sap.ckpt")]).status == 0)
    for bad in [["--rounds", "0"], ["--beta", "1.5"], ["--scope", "sideways"], ["--p", "2"]] {
      let failed = try winnow(["sap", try trainedCheckpoint()] + bad)
      #expect(failed.status != 0 && !failed.stderr.isEmpty, "\(bad)")
    }
  }

  @Test func pruningAtInitialisationThenTraining() throws {
    for method in ["snip:0.8", "synflow:0.8"] {
      let r = try winnow(["train", "--model", "mlp", "--epochs", "1", "--sparse", method, "--limit", "256"])
      #expect(r.status == 0, "\(method): \(r.stderr)")
    }
  }

  @Test func planNamingUnknownLayerIsRejected() throws {
    let plan = scratch("bad-plan.json")
    try Data(#"{"layers": {"fc9.weight": {"sparsity": 0.5}}}"#.utf8).write(to: URL(fileURLWithPath: plan))
    let r = try winnow(["prune", try trainedCheckpoint(), "--plan", plan])
    #expect(r.status != 0)
    #expect(r.stderr.contains("fc9.weight"))
  }
}

@Suite(.serialized) struct FactorizeCLITests {
  private func trainedCheckpoint() throws -> String {
    let checkpoint = scratch("factorize-base.ckpt")
    if !FileManager.default.fileExists(atPath: checkpoint) {
      let r = try winnow(["train", "--model", "mlp", "--epochs", "1", "--checkpoint", checkpoint, "--limit", "512"])
      #expect(r.status == 0, "\(r.stderr)")
    }
    return checkpoint
  }

  @Test func factorizeFineTuneWithDistillationSaveAndEvaluate() throws {
    let base = try trainedCheckpoint()
    let out = scratch("factorized.ckpt"), report = scratch("factorized.json")
    let r = try winnow(["factorize", base, "--compression", "2", "--finetune-epochs", "1", "--limit", "256",
                        "--distill-from", base, "--output", out, "--report", report])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("fc1") && r.stdout.contains("rank") && r.stdout.contains("fine-tuned") && r.stdout.contains("distilling"))
    let json = try String(contentsOfFile: report, encoding: .utf8)
    #expect(json.contains("\"parameters_after\"") && json.contains("\"rank\""))
    let eval = try winnow(["eval", out])
    #expect(eval.status == 0, "\(eval.stderr)")
    let info = try winnow(["info", out])
    #expect(info.stdout.contains("fc1.first.weight"))
  }

  @Test func factorizeWritesTablePlotAndJSON() throws {
    let directory = scratch("factorize-out")
    let r = try winnow(["factorize", try trainedCheckpoint(), "--energy", "0.5", "--limit", "256", "--out", directory, "--name", "mlp"])
    #expect(r.status == 0, "\(r.stderr)")
    let markdown = try String(contentsOfFile: directory + "/mlp.md", encoding: .utf8)
    let svg = try String(contentsOfFile: directory + "/mlp.svg", encoding: .utf8)
    let json = try String(contentsOfFile: directory + "/mlp.json", encoding: .utf8)
    #expect(markdown.contains("| fc1 |") && markdown.contains("factorized"))
    #expect(svg.hasPrefix("<svg") && svg.contains("fc1") && svg.contains("<polyline"))
    #expect(json.contains("\"layers\""))
  }

  @Test func trainedRankPruningRuns() throws {
    let r = try winnow(["factorize", try trainedCheckpoint(), "--energy", "0.8", "--trp-epochs", "1", "--trp-period", "4", "--limit", "256"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("trp:") && r.stdout.contains("factorized:"))
  }

  @Test(arguments: [
    ([] as [String], "--energy"), (["--energy", "1.5"], "energy 1.5"), (["--energy", "0.9", "--compression", "2"], "exactly one"),
    (["--compression", "0.5"], "compression 0.5"), (["--energy", "0.9", "--layers", "fc9"], "fc9"),
    (["--energy", "0.9", "--layers", "relu1"], "relu1"), (["--energy", "0.9", "--distill-from", "/nonexistent/teacher.ckpt"], "/nonexistent/teacher.ckpt"),
    (["--energy", "0.9", "--distill-feature", "fc1:fc1"], "--distill-from"),
    (["--energy", "0.9", "--trp-epochs", "1", "--trp-period", "0"], "period"),
  ])
  func badOptionsNameTheProblem(arguments: [String], expected: String) throws {
    let r = try winnow(["factorize", try trainedCheckpoint(), "--limit", "64"] + arguments)
    #expect(r.status != 0)
    #expect(r.stderr.contains(expected), "\(r.stderr)")
  }

  @Test func pruneWithDistillationRejectsBadTemperature() throws {
    let base = try trainedCheckpoint()
    let r = try winnow(["prune", base, "--sparsity", "0.5", "--finetune-epochs", "1", "--limit", "64",
                        "--distill-from", base, "--distill-temperature", "0"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("temperature"), "\(r.stderr)")
  }
}
