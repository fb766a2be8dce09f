import CRIOConfig
import Testing

@Suite struct GoDurationTests {
  @Test func readsGoDurations() {
    #expect(GoDuration.parse("4h") == .seconds(4 * 3600))
    #expect(GoDuration.parse("1h30m") == .seconds(5400))
    #expect(GoDuration.parse("300ms") == .milliseconds(300))
    #expect(GoDuration.parse("1.5s") == .milliseconds(1500))
    #expect(GoDuration.parse("0") == .zero)
  }

  @Test func rejectsWhatGoRejects() {
    #expect(GoDuration.parse("") == nil)
    #expect(GoDuration.parse("4") == nil)
    #expect(GoDuration.parse("4x") == nil)
    #expect(GoDuration.parse("h") == nil)
  }

  /// Found by the go-duration fuzz target: a duration past Int64 nanoseconds trapped.
  @Test func refusesDurationsPastInt64NanosecondsInsteadOfTrapping() {
    #expect(GoDuration.parse("2562047h") == .seconds(2_562_047 * 3600))
    #expect(GoDuration.parse("2562048h") == nil)
    #expect(GoDuration.parse("99999999999999999999999h") == nil)
    #expect(GoDuration.parse(String(repeating: "9", count: 400) + "s") == nil)
  }
}
