import CRIOFuzz
import Foundation
import Testing

@Suite struct FuzzerEngineTests {
  private func budget(iterations: Int, seed: UInt64 = 7, replay: UInt64? = nil) -> FuzzBudget {
    FuzzBudget(seconds: 60, maxIterations: iterations, baseSeed: seed, replayCase: replay, caseDirectory: "/tmp/crio-fuzz-engine-test")
  }

  @Test func splitMix64MatchesTheReferenceSequence() {
    // The first outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
    var rng = SplitMix64(seed: 1_234_567)
    #expect(rng.next() == 6_457_827_717_110_365_317)
    #expect(rng.next() == 3_203_168_211_198_807_973)
  }

  @Test func aCaseSeedAlwaysMakesTheSameInput() {
    let fuzzer = Fuzzer(target: "engine", seeds: ["hello world", "{\"a\":1}"], dictionary: Mutator.jsonTokens)
    for caseSeed: UInt64 in [0, 1, 0xdead_beef, .max] {
      #expect(fuzzer.input(forCase: caseSeed) == fuzzer.input(forCase: caseSeed))
    }
    let distinct = Set((0..<200).map { fuzzer.input(forCase: UInt64($0)) })
    #expect(distinct.count > 150)
  }

  @Test func seedsRunFirstAndUnchangedThenTheBudgetIsHonoured() async throws {
    var seen: [[UInt8]] = []
    let fuzzer = Fuzzer(target: "engine-budget", seeds: ["a", "b"], budget: budget(iterations: 50))
    let report = try await fuzzer.run { seen.append($0) }
    #expect(report.cases == 50)
    #expect(seen.count == 50)
    #expect(seen.prefix(2) == [Array("a".utf8), Array("b".utf8)])
  }

  @Test func aFailureNamesTheCaseAndTheInputAndReplaysExactly() async throws {
    let fuzzer = Fuzzer(target: "engine-failure", seeds: ["aaaa"], budget: budget(iterations: 10_000))
    var failure: FuzzFailure?
    do {
      try await fuzzer.run { input in
        if input.count > 6 { throw FuzzViolation("too long") }
      }
    } catch let error as FuzzFailure {
      failure = error
    }
    let found = try #require(failure)
    let caseSeed = try #require(found.caseSeed)
    #expect(found.input.count > 6)
    #expect(found.description.contains("too long"))
    #expect(found.description.contains(Data(found.input).base64EncodedString()))
    #expect(found.description.contains(String(caseSeed, radix: 16)))
    // CRIO_FUZZ_CASE replays that one input and nothing else.
    var replayed: [[UInt8]] = []
    var replay = fuzzer
    replay.budget = budget(iterations: 10_000, replay: caseSeed)
    try await replay.run { replayed.append($0) }
    #expect(replayed == [found.input])
  }

  @Test func theEnvironmentSetsTheBudget() {
    let budget = FuzzBudget.fromEnvironment([
      "CRIO_FUZZ_SECONDS": "2.5", "CRIO_FUZZ_ITERATIONS": "9", "CRIO_FUZZ_SEED": "0x10", "CRIO_FUZZ_CASE": "42",
    ])
    #expect(budget.seconds == 2.5)
    #expect(budget.maxIterations == 9)
    #expect(budget.baseSeed == 16)
    #expect(budget.replayCase == 42)
    #expect(FuzzBudget.fromEnvironment([:]).seconds == 1)
  }

  @Test func tarChecksumsAreRepaired() {
    var header = [UInt8](repeating: 0, count: 512)
    header.replaceSubrange(0..<4, with: Array("name".utf8))
    header.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
    var rng = SplitMix64(seed: 3)
    var repaired: [UInt8] = []
    for _ in 0..<8 where repaired.isEmpty {
      let out = TarChecksum.fixup(header, rng: &rng)
      if out != header { repaired = out }
    }
    let expected = header.enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 0x20 : Int($1.element)) }
    let field = String(decoding: repaired[148..<154], as: UTF8.self)
    #expect(Int(field, radix: 8) == expected)
  }
}
