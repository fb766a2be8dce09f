import Foundation

/// What a measurement counts in.
public enum MeasurementUnit: String, Sendable, Codable {
  /// Latency of one call, or wall time of a group of calls.
  case milliseconds = "ms"
  /// Resident memory (VmRSS).
  case mebibytes = "MiB"
}

/// The samples of one operation on one endpoint.
public struct BenchMeasurement: Sendable, Equatable {
  public var operation: String
  public var unit: MeasurementUnit
  public var samples: [Double]

  public init(operation: String, unit: MeasurementUnit, samples: [Double] = []) {
    self.operation = operation
    self.unit = unit
    self.samples = samples
  }

  public var summary: Summary? { Summary(samples) }
}

extension BenchMeasurement: Codable {
  enum CodingKeys: String, CodingKey { case operation, unit, n, min, median, p90, max, samples }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    let s = summary
    try c.encode(operation, forKey: .operation)
    try c.encode(unit, forKey: .unit)
    try c.encode(s?.n ?? 0, forKey: .n)
    try c.encode(s?.min, forKey: .min)
    try c.encode(s?.median, forKey: .median)
    try c.encode(s?.p90, forKey: .p90)
    try c.encode(s?.max, forKey: .max)
    try c.encode(samples, forKey: .samples)
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    operation = try c.decode(String.self, forKey: .operation)
    unit = try c.decode(MeasurementUnit.self, forKey: .unit)
    samples = try c.decode([Double].self, forKey: .samples)
  }
}

/// Everything measured on one endpoint, in the order it was measured.
public struct RunResult: Sendable, Equatable, Codable {
  /// `crio`, or `compare` for the `--compare` endpoint.
  public var label: String
  public var endpoint: String
  /// Runtime name and version as `Version` reports them.
  public var runtime: String
  public var measurements: [BenchMeasurement]
  /// Phases that failed, with the error; their measurements are missing or partial.
  public var errors: [String]

  public init(label: String, endpoint: String, runtime: String, measurements: [BenchMeasurement] = [], errors: [String] = []) {
    self.label = label
    self.endpoint = endpoint
    self.runtime = runtime
    self.measurements = measurements
    self.errors = errors
  }

  public func measurement(_ operation: String) -> BenchMeasurement? {
    measurements.first { $0.operation == operation }
  }
}

/// The machine the figures come from.
public struct MachineInfo: Sendable, Equatable, Codable {
  public var cpus: Int
  public var memoryMiB: Int
  public var os: String
  public var kernel: String

  public init(cpus: Int, memoryMiB: Int, os: String, kernel: String) {
    self.cpus = cpus
    self.memoryMiB = memoryMiB
    self.os = os
    self.kernel = kernel
  }

  public var description: String { "\(cpus) CPUs, \(memoryMiB) MiB, \(os), Linux \(kernel)" }
}

/// One bench run: crio, and optionally the same workload on a compare endpoint.
public struct BenchReport: Sendable, Equatable {
  public var date: String
  public var machine: MachineInfo
  public var primary: RunResult
  public var compare: RunResult?

  public init(date: String, machine: MachineInfo, primary: RunResult, compare: RunResult? = nil) {
    self.date = date
    self.machine = machine
    self.primary = primary
    self.compare = compare
  }

  /// Operations of both runs: the primary's order, then any only the compare run has.
  public var operations: [(name: String, unit: MeasurementUnit)] {
    var seen = Set<String>()
    var out: [(String, MeasurementUnit)] = []
    for m in primary.measurements + (compare?.measurements ?? []) where seen.insert(m.operation).inserted {
      out.append((m.operation, m.unit))
    }
    return out
  }

  /// primary median / compare median, per operation (nil where either is missing).
  public var ratios: [(operation: String, unit: MeasurementUnit, ratio: Double?)] {
    guard let compare else { return [] }
    return operations.map { op in
      (op.name, op.unit, Ratio.of(primary.measurement(op.name)?.summary?.median, compare.measurement(op.name)?.summary?.median))
    }
  }

  /// The human table: one line per operation; with a compare run, its N and
  /// median and the ratio of the medians (below 1: crio is faster or smaller).
  public func table() -> String {
    var header = ["operation", "unit", "N", "min", "median", "p90", "max"]
    if let compare { header += ["\(compare.label) N", "\(compare.label) median", "ratio"] }
    var rows: [[String]] = [header]
    for op in operations {
      var row = [op.name, op.unit.rawValue]
      if let s = primary.measurement(op.name)?.summary {
        row += ["\(s.n)", formatValue(s.min), formatValue(s.median), formatValue(s.p90), formatValue(s.max)]
      } else {
        row += ["0", "-", "-", "-", "-"]
      }
      if let compare {
        let theirs = compare.measurement(op.name)?.summary
        row += [
          theirs.map { "\($0.n)" } ?? "0", theirs.map { formatValue($0.median) } ?? "-",
          Ratio.format(Ratio.of(primary.measurement(op.name)?.summary?.median, theirs?.median)),
        ]
      }
      rows.append(row)
    }
    let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
    var lines: [String] = []
    lines.append("\(primary.label): \(primary.runtime) at \(primary.endpoint)")
    if let compare { lines.append("\(compare.label): \(compare.runtime) at \(compare.endpoint)") }
    lines.append("\(date), \(machine.description)")
    for (index, row) in rows.enumerated() {
      let cells = row.enumerated().map { i, cell in
        // Names left-aligned, numbers right-aligned.
        i < 2 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
          : String(repeating: " ", count: widths[i] - cell.count) + cell
      }
      lines.append(cells.joined(separator: "  "))
      if index == 0 { lines.append(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))) }
    }
    for run in [primary] + (compare.map { [$0] } ?? []) {
      for error in run.errors { lines.append("\(run.label): FAILED \(error)") }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The report as JSON: date, machine, one object per run (summaries and
  /// raw samples per operation) and, with a compare run, the ratios.
  public func json() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(JSONShape(self))
  }

  private struct JSONShape: Encodable {
    struct RatioLine: Encodable {
      let operation: String
      let unit: MeasurementUnit
      let ratio: Double?
      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(operation, forKey: .operation)
        try c.encode(unit, forKey: .unit)
        try c.encode(ratio, forKey: .ratio)
      }
      enum CodingKeys: String, CodingKey { case operation, unit, ratio }
    }
    let date: String
    let machine: MachineInfo
    let runs: [RunResult]
    let ratios: [RatioLine]

    init(_ report: BenchReport) {
      date = report.date
      machine = report.machine
      runs = [report.primary] + (report.compare.map { [$0] } ?? [])
      ratios = report.ratios.map { RatioLine(operation: $0.operation, unit: $0.unit, ratio: $0.ratio) }
    }
  }
}
