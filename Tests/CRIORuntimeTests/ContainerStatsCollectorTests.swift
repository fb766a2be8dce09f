import Foundation
import Glibc
import Testing

@testable import CRIORuntime

@Suite struct CPURateTests {
  @Test func theRateIsTakenBetweenSamplesAtLeastAWindowApart() async {
    let collector = ContainerStatsCollector(reader: CgroupV1Reader(root: "/nonexistent"), layersDirectory: "/tmp")
    let second: Int64 = 1_000_000_000
    // First call: no earlier sample, so the average since the start at zero usage.
    #expect(await collector.rate(id: "c", timestamp: 10 * second, usage: 4 * UInt64(second), since: 2 * second)
      == 500_000_000)
    // Half a core over the next two seconds.
    #expect(await collector.rate(id: "c", timestamp: 12 * second, usage: 5 * UInt64(second), since: 2 * second)
      == 500_000_000)
    // A call right after the previous one uses the older sample of the two kept.
    #expect(await collector.rate(id: "c", timestamp: 12 * second + 1000, usage: 5 * UInt64(second) + 500, since: 2 * second)
      == 500_000_000)
    // No usage known: no rate.
    #expect(await collector.rate(id: "d", timestamp: 10 * second, usage: nil, since: 0) == nil)
    // Never started, first sample: nothing to compare with.
    #expect(await collector.rate(id: "e", timestamp: 10 * second, usage: 5, since: 0) == nil)
  }
}
