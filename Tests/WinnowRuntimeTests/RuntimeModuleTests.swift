import Testing
import WinnowRuntime

@Suite struct RuntimeModuleTests {
  @Test func moduleLinks() { #expect(String(describing: WinnowRuntime.self) == "WinnowRuntime") }
}
