import Testing
import WinnowFormats

@Suite struct FormatsModuleTests {
  @Test func moduleLinks() { #expect(String(describing: WinnowFormats.self) == "WinnowFormats") }
}
