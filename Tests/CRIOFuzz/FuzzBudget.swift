import Foundation

/// How long a fuzz target runs and from which seed, read from the environment:
///
/// - `CRIO_FUZZ_SECONDS`: wall-clock time per target (default 1; `make fuzz` sets 60).
/// - `CRIO_FUZZ_ITERATIONS`: at most this many cases per target (default: no cap).
/// - `CRIO_FUZZ_SEED`: the base seed (decimal or 0x-hex; default: a hash of the target name,
///   so `make test` runs the same cases every time).
/// - `CRIO_FUZZ_CASE`: run only this case (the seed a failure reported), then stop.
/// - `CRIO_FUZZ_DIR`: where each target records the case it is running (default /tmp/crio-fuzz),
///   so a case that crashes the test process can still be found.
/// - `CRIO_FUZZ_SLOW_SECONDS`: a single case taking longer than this is a failure (default 10).
public struct FuzzBudget: Sendable {
  public var seconds: Double
  public var maxIterations: Int?
  public var baseSeed: UInt64?
  public var replayCase: UInt64?
  public var caseDirectory: String
  public var slowCaseSeconds: Double

  public init(
    seconds: Double = 1, maxIterations: Int? = nil, baseSeed: UInt64? = nil, replayCase: UInt64? = nil,
    caseDirectory: String = "/tmp/crio-fuzz", slowCaseSeconds: Double = 10
  ) {
    self.seconds = seconds
    self.maxIterations = maxIterations
    self.baseSeed = baseSeed
    self.replayCase = replayCase
    self.caseDirectory = caseDirectory
    self.slowCaseSeconds = slowCaseSeconds
  }

  public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> FuzzBudget {
    var budget = FuzzBudget()
    if let text = environment["CRIO_FUZZ_SECONDS"], let value = Double(text), value >= 0 { budget.seconds = value }
    if let text = environment["CRIO_FUZZ_ITERATIONS"], let value = Int(text), value >= 0 { budget.maxIterations = value }
    if let text = environment["CRIO_FUZZ_SEED"] { budget.baseSeed = parseSeed(text) }
    if let text = environment["CRIO_FUZZ_CASE"] { budget.replayCase = parseSeed(text) }
    if let text = environment["CRIO_FUZZ_DIR"], !text.isEmpty { budget.caseDirectory = text }
    if let text = environment["CRIO_FUZZ_SLOW_SECONDS"], let value = Double(text), value > 0 {
      budget.slowCaseSeconds = value
    }
    return budget
  }

  /// `123` or `0x7b`.
  static func parseSeed(_ text: String) -> UInt64? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if trimmed.hasPrefix("0x") || trimmed.hasPrefix("0X") { return UInt64(trimmed.dropFirst(2), radix: 16) }
    return UInt64(trimmed)
  }
}
