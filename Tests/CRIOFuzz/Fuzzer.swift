import Foundation
import Glibc

/// A small deterministic fuzzing engine for Swift Testing tests.
///
/// It first runs every seed as it is, then mutated seeds until the budget
/// (`FuzzBudget`, from the environment) is spent. Each mutated case comes from
/// one 64-bit case seed, so a failure is reproduced by running that case
/// alone (`CRIO_FUZZ_CASE=0x...`). The body checks the target's invariants and
/// throws when one is broken (an unexpected error type counts: the body catches
/// only the parser's own error). A trap in the code under test kills the test
/// process, which is loud enough; the case it was running is then in
/// `<CRIO_FUZZ_DIR>/<target>.case`.
public struct Fuzzer: Sendable {
  public let target: String
  public let seeds: [[UInt8]]
  public var mutator: Mutator
  public var budget: FuzzBudget
  /// Applied to each mutated input, e.g. to fix up tar header checksums so
  /// mutations get past them. Gets the case's generator.
  public var fixup: (@Sendable ([UInt8], inout SplitMix64) -> [UInt8])?

  public init(
    target: String, seeds: [[UInt8]], dictionary: [[UInt8]] = [], maxLength: Int = 64 * 1024,
    budget: FuzzBudget = .fromEnvironment(),
    fixup: (@Sendable ([UInt8], inout SplitMix64) -> [UInt8])? = nil
  ) {
    precondition(!seeds.isEmpty, "a fuzz target needs at least one seed")
    self.target = target
    self.seeds = seeds
    self.mutator = Mutator(dictionary: dictionary, maxLength: maxLength)
    self.budget = budget
    self.fixup = fixup
  }

  public init(
    target: String, seeds: [String], dictionary: [[UInt8]] = [], maxLength: Int = 64 * 1024,
    budget: FuzzBudget = .fromEnvironment()
  ) {
    self.init(target: target, seeds: seeds.map { Array($0.utf8) }, dictionary: dictionary, maxLength: maxLength, budget: budget)
  }

  /// The input of the mutated case `caseSeed`.
  public func input(forCase caseSeed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: caseSeed)
    let base = seeds[rng.below(seeds.count)]
    var bytes = mutator.mutate(base, corpus: seeds, rng: &rng)
    if let fixup { bytes = fixup(bytes, &rng) }
    return bytes
  }

  /// Runs `body` on the seeds, then on mutated cases until the budget is spent.
  /// Yields the thread every few milliseconds: fuzz tests run side by side on
  /// Swift's cooperative pool, and a target that never let go of its thread
  /// would starve the ones that await (the SPDY session) into false "slow case"
  /// failures.
  @discardableResult
  public func run(_ body: ([UInt8]) throws -> Void) async throws -> FuzzReport {
    var cases = FuzzCases(self)
    defer { cases.finish() }
    var lastYield = ContinuousClock.now
    while let next = cases.next() {
      if ContinuousClock.now - lastYield > .milliseconds(10) {
        await Task.yield()
        lastYield = ContinuousClock.now
      }
      let started = ContinuousClock.now
      do {
        try body(next.input)
      } catch {
        throw failure(next, "\(error)")
      }
      try checkDuration(next, since: started)
    }
    return cases.report
  }

  /// The same, for bodies that must await (a channel pipeline, a server).
  @discardableResult
  public func run(_ body: ([UInt8]) async throws -> Void) async throws -> FuzzReport {
    var cases = FuzzCases(self)
    defer { cases.finish() }
    while let next = cases.next() {
      let started = ContinuousClock.now
      do {
        try await body(next.input)
      } catch {
        throw failure(next, "\(error)")
      }
      try checkDuration(next, since: started)
    }
    return cases.report
  }

  private func checkDuration(_ fuzzCase: FuzzCase, since started: ContinuousClock.Instant) throws {
    let elapsed = ContinuousClock.now - started
    if elapsed > .seconds(budget.slowCaseSeconds) {
      throw failure(fuzzCase, "took \(elapsed), more than the \(budget.slowCaseSeconds) s a case may take")
    }
  }

  private func failure(_ fuzzCase: FuzzCase, _ reason: String) -> FuzzFailure {
    FuzzFailure(target: target, label: fuzzCase.label, caseSeed: fuzzCase.caseSeed, input: fuzzCase.input, reason: reason)
  }
}

/// One input to try: a seed as it is, or a mutated case.
struct FuzzCase {
  var label: String
  var caseSeed: UInt64?
  var input: [UInt8]
}

/// What a fuzz run did.
public struct FuzzReport: Sendable {
  public var target: String
  /// Inputs tried, seeds included.
  public var cases: Int
  public var baseSeed: UInt64
}

/// The cases of one run, within its budget; records the current case on disk.
struct FuzzCases {
  let fuzzer: Fuzzer
  let baseSeed: UInt64
  let deadline: ContinuousClock.Instant
  private(set) var report: FuzzReport
  private var index = 0
  private let recordFD: Int32

  init(_ fuzzer: Fuzzer) {
    self.fuzzer = fuzzer
    baseSeed = fuzzer.budget.baseSeed ?? SplitMix64.stableHash(fuzzer.target)
    deadline = ContinuousClock.now + .milliseconds(Int64(fuzzer.budget.seconds * 1000))
    report = FuzzReport(target: fuzzer.target, cases: 0, baseSeed: baseSeed)
    mkdir(fuzzer.budget.caseDirectory, 0o755)
    recordFD = open(Self.recordPath(fuzzer), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
  }

  static func recordPath(_ fuzzer: Fuzzer) -> String {
    "\(fuzzer.budget.caseDirectory)/\(fuzzer.target).case"
  }

  mutating func next() -> FuzzCase? {
    defer { index += 1 }
    let fuzzCase: FuzzCase
    if let replay = fuzzer.budget.replayCase {
      guard index == 0 else { return nil }
      fuzzCase = FuzzCase(label: Self.hex(replay), caseSeed: replay, input: fuzzer.input(forCase: replay))
      // Shown before it runs: the case may crash the process.
      let shown = FuzzFailure(
        target: fuzzer.target, label: fuzzCase.label, caseSeed: replay, input: fuzzCase.input, reason: "replaying")
      FileHandle.standardError.write(Data("\(shown)\n".utf8))
    } else if index < fuzzer.seeds.count {
      fuzzCase = FuzzCase(label: "seed #\(index)", caseSeed: nil, input: fuzzer.seeds[index])
    } else {
      if let cap = fuzzer.budget.maxIterations, index >= max(cap, fuzzer.seeds.count) { return nil }
      if ContinuousClock.now >= deadline { return nil }
      var mixer = SplitMix64(seed: baseSeed &+ UInt64(index))
      let caseSeed = mixer.next()
      fuzzCase = FuzzCase(label: Self.hex(caseSeed), caseSeed: caseSeed, input: fuzzer.input(forCase: caseSeed))
    }
    record(fuzzCase.label)
    report.cases += 1
    return fuzzCase
  }

  /// Overwrites the record file with the current case (one syscall per case).
  private func record(_ label: String) {
    guard recordFD >= 0 else { return }
    let line = Array("\(label)\n".utf8) + [UInt8](repeating: 0x20, count: max(0, 24 - label.utf8.count))
    _ = line.withUnsafeBytes { pwrite(recordFD, $0.baseAddress, $0.count, 0) }
  }

  /// Closes the record file and removes it: nothing crashed.
  func finish() {
    guard recordFD >= 0 else { return }
    close(recordFD)
    unlink(Self.recordPath(fuzzer))
  }

  static func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
  }
}

/// A broken invariant (or an unexpected error) on one input, with what it
/// takes to reproduce it.
public struct FuzzFailure: Error, CustomStringConvertible {
  public var target: String
  public var label: String
  public var caseSeed: UInt64?
  public var input: [UInt8]
  public var reason: String

  public var description: String {
    let reproduce = caseSeed.map { "reproduce with CRIO_FUZZ_CASE=\(FuzzCases.hex($0)) and a --filter for this test" }
      ?? "the input is one of the target's seeds"
    return """
      fuzz target \(target), case \(label): \(reason)
      input (\(input.count) bytes, base64): \(Data(input).base64EncodedString())
      input (escaped, first 512 bytes): \(Self.escaped(input.prefix(512)))
      \(reproduce)
      """
  }

  static func escaped(_ bytes: ArraySlice<UInt8>) -> String {
    var out = ""
    for byte in bytes {
      switch byte {
      case 0x20..<0x7f where byte != UInt8(ascii: "\\"): out.unicodeScalars.append(Unicode.Scalar(byte))
      case UInt8(ascii: "\\"): out += "\\\\"
      case 0x0a: out += "\\n"
      default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
      }
    }
    return out
  }
}

/// Thrown by a fuzz body when an invariant does not hold.
public struct FuzzViolation: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
