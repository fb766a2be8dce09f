import CRIOBench
import Foundation
import Testing

@Suite struct SummaryTests {
  @Test func oddCountHasTheMiddleSampleAsMedian() throws {
    let s = try #require(Summary([5, 1, 3]))
    #expect(s == Summary(n: 3, min: 1, median: 3, p90: 5, max: 5))
  }

  @Test func evenCountAveragesTheTwoMiddleSamples() throws {
    let s = try #require(Summary([4, 1, 3, 2]))
    #expect(s.median == 2.5)
    #expect(s.min == 1)
    #expect(s.max == 4)
  }

  @Test func p90IsTheNearestRank() throws {
    // 1...10: rank ⌈9⌉ = 9. 1...20: rank 18. 1...21: rank ⌈18.9⌉ = 19.
    #expect(Summary((1...10).map(Double.init))?.p90 == 9)
    #expect(Summary((1...20).map(Double.init).reversed())?.p90 == 18)
    #expect(Summary((1...21).map(Double.init))?.p90 == 19)
    #expect(Summary((1...100).map(Double.init))?.p90 == 90)
    // Fewer than ten samples: the maximum.
    #expect(Summary([1, 2, 3, 4, 5])?.p90 == 5)
  }

  @Test func oneSampleIsEverything() {
    #expect(Summary([7.5]) == Summary(n: 1, min: 7.5, median: 7.5, p90: 7.5, max: 7.5))
  }

  @Test func noSamplesNoSummary() {
    #expect(Summary([]) == nil)
  }
}

@Suite struct RatioTests {
  @Test func ratioOfMedians() {
    #expect(Ratio.of(50, 100) == 0.5)
    #expect(Ratio.of(nil, 100) == nil)
    #expect(Ratio.of(50, nil) == nil)
    #expect(Ratio.of(50, 0) == nil)
  }

  @Test func formatting() {
    #expect(Ratio.format(0.5) == "0.50x")
    #expect(Ratio.format(1) == "1.00x")
    #expect(Ratio.format(0.3449) == "0.34x")
    #expect(Ratio.format(0.345) == "0.35x")
    #expect(Ratio.format(9.999) == "10.00x")
    #expect(Ratio.format(12.34) == "12.3x")
    #expect(Ratio.format(nil) == "-")
    #expect(Ratio.format(.infinity) == "-")
  }

  @Test func valuesGetDecimalsBySize() {
    #expect(formatValue(0.4249) == "0.42")
    #expect(formatValue(3.14159) == "3.14")
    #expect(formatValue(41.46) == "41.5")
    #expect(formatValue(999.94) == "999.9")
    #expect(formatValue(1234.4) == "1234")
    #expect(formatValue(0.005) == "0.01")
    #expect(formatValue(0) == "0.00")
  }
}

@Suite struct ReportTests {
  let machine = MachineInfo(cpus: 2, memoryMiB: 23_000, os: "Debian GNU/Linux 12 (bookworm)", kernel: "6.1.0")

  func run(_ label: String, _ values: [(String, MeasurementUnit, [Double])], errors: [String] = []) -> RunResult {
    RunResult(
      label: label, endpoint: "unix:///tmp/\(label).sock", runtime: "\(label) 1.0",
      measurements: values.map { BenchMeasurement(operation: $0.0, unit: $0.1, samples: $0.2) }, errors: errors)
  }

  @Test func tableHasOneLinePerOperationAndRatiosWithACompareRun() {
    let report = BenchReport(
      date: "2025-01-01T00:00:00Z", machine: machine,
      primary: run("crio", [("RunPodSandbox", .milliseconds, [30, 40, 50]), ("daemon RSS idle", .mebibytes, [12])]),
      compare: run("compare", [("RunPodSandbox", .milliseconds, [80, 100]), ("only there", .milliseconds, [1])]))
    let lines = report.table().split(separator: "\n").map(String.init)
    let pod = lines.first { $0.hasPrefix("RunPodSandbox") }
    #expect(pod?.split(separator: " ", omittingEmptySubsequences: true)
      == ["RunPodSandbox", "ms", "3", "30.0", "40.0", "50.0", "50.0", "2", "90.0", "0.44x"])
    let rss = lines.first { $0.hasPrefix("daemon RSS idle") }
    #expect(rss?.split(separator: " ").suffix(3) == ["0", "-", "-"], "\(rss ?? "")")
    let only = lines.first { $0.hasPrefix("only there") }
    #expect(only?.split(separator: " ").suffix(2) == ["1.00", "-"], "\(only ?? "")")
  }

  @Test func tableWithoutCompareHasNoRatioColumn() {
    let report = BenchReport(
      date: "d", machine: machine, primary: run("crio", [("ListImages", .milliseconds, [1, 2])], errors: ["list: boom"]))
    let table = report.table()
    let header = table.split(separator: "\n").first { $0.hasPrefix("operation") }
    #expect(header?.split(separator: " ") == ["operation", "unit", "N", "min", "median", "p90", "max"])
    #expect(table.contains("ListImages"))
    #expect(table.contains("crio: FAILED list: boom"))
  }

  @Test func jsonHasRunsSummariesSamplesAndRatios() throws {
    let report = BenchReport(
      date: "2025-01-01T00:00:00Z", machine: machine,
      primary: run("crio", [("PullImage small", .milliseconds, [10, 20, 30]), ("missing", .milliseconds, [])]),
      compare: run("compare", [("PullImage small", .milliseconds, [40])]))
    let object = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
    #expect(object["date"] as? String == "2025-01-01T00:00:00Z")
    let machine = try #require(object["machine"] as? [String: Any])
    #expect(machine["cpus"] as? Int == 2)
    #expect(machine["os"] as? String == "Debian GNU/Linux 12 (bookworm)")
    let runs = try #require(object["runs"] as? [[String: Any]])
    #expect(runs.map { $0["label"] as? String } == ["crio", "compare"])
    #expect(runs[0]["runtime"] as? String == "crio 1.0")
    let results = try #require(runs[0]["measurements"] as? [[String: Any]])
    #expect(results[0]["operation"] as? String == "PullImage small")
    #expect(results[0]["unit"] as? String == "ms")
    #expect(results[0]["n"] as? Int == 3)
    #expect(results[0]["min"] as? Double == 10)
    #expect(results[0]["median"] as? Double == 20)
    #expect(results[0]["p90"] as? Double == 30)
    #expect(results[0]["max"] as? Double == 30)
    #expect(results[0]["samples"] as? [Double] == [10, 20, 30])
    // No samples: n 0, the statistics null (present, not omitted).
    #expect(results[1]["n"] as? Int == 0)
    #expect(results[1].keys.contains("median"))
    #expect(results[1]["median"] is NSNull)
    let ratios = try #require(object["ratios"] as? [[String: Any]])
    #expect(ratios.count == 2)
    #expect(ratios[0]["operation"] as? String == "PullImage small")
    #expect(ratios[0]["ratio"] as? Double == 0.5)
    #expect(ratios[1]["ratio"] is NSNull)
  }

  @Test func jsonRoundTripsMeasurements() throws {
    let m = BenchMeasurement(operation: "x", unit: .mebibytes, samples: [1.5, 2])
    let back = try JSONDecoder().decode(BenchMeasurement.self, from: JSONEncoder().encode(m))
    #expect(back == m)
  }

  @Test func withoutCompareThereAreNoRatios() throws {
    let report = BenchReport(date: "d", machine: machine, primary: run("crio", [("x", .milliseconds, [1])]))
    let object = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
    #expect((object["ratios"] as? [Any])?.isEmpty == true)
    #expect((object["runs"] as? [Any])?.count == 1)
  }
}
