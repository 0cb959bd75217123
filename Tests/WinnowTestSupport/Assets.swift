import Foundation

/// The directory of a downloaded asset (see `../shared/DATA.md`: `$WINNOW_ASSETS/<asset>` or
/// `~/.cache/winnow-assets/<asset>`), or nil when `requiredFile` is not there, so tests that
/// need it can skip cleanly.
public func assetDirectory(_ asset: String, requiredFile: String) -> String? {
  var roots: [String] = []
  if let root = ProcessInfo.processInfo.environment["WINNOW_ASSETS"], !root.isEmpty { roots.append(root) }
  roots.append(FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/winnow-assets")
  for root in roots {
    let directory = root + "/" + asset
    if FileManager.default.fileExists(atPath: directory + "/" + requiredFile) { return directory }
  }
  return nil
}

/// all-MiniLM-L6-v2 (asset `minilm`), when present.
public var miniLMDirectory: String? { assetDirectory("minilm", requiredFile: "model.safetensors") }
