import CRIOFuzz
import NIOCore
import NIOEmbedded
import Testing

@testable import SPDY

/// Hostile SPDY bytes from a peer: the frame decoder throws only `SPDYError`,
/// decodes the same frames however the bytes are split into reads, and a
/// session fed them answers with well-formed frames (or GOAWAY) and never traps.
@Suite("SPDY fuzzing", .timeLimit(.minutes(5)))
struct FrameFuzzTests {
  static let seeds: [[UInt8]] = [
    GoReferenceFrames.compressedSequence.flatMap { $0 },
    GoReferenceFrames.settings + GoReferenceFrames.syn1 + GoReferenceFrames.ping1 + GoReferenceFrames.dataHelloFin,
    GoReferenceFrames.syn1 + GoReferenceFrames.windowUpdate + GoReferenceFrames.rstCancel + GoReferenceFrames.goAway3,
    GoReferenceFrames.syn1 + GoReferenceFrames.dataEmptyFin + GoReferenceFrames.syn3,
  ]

  static let dictionary: [[UInt8]] = [
    [0x80, 0x03, 0x00, 0x01], [0x80, 0x03, 0x00, 0x02], [0x80, 0x03, 0x00, 0x03], [0x80, 0x03, 0x00, 0x04],
    [0x80, 0x03, 0x00, 0x05], [0x80, 0x03, 0x00, 0x06], [0x80, 0x03, 0x00, 0x07], [0x80, 0x03, 0x00, 0x08],
    [0x80, 0x03, 0x00, 0x09], [0x80, 0x03, 0x00, 0x0a], [0x00, 0x00, 0x00, 0x01], [0x01, 0xff, 0xff, 0xff],
    [0x78, 0xbb], [0x78, 0xf9, 0xe3, 0xc6], [0x00, 0x00, 0xff, 0xff], [0x7f, 0xff, 0xff, 0xff],
  ]

  /// Every frame (or the error) of `bytes`, fed in the given read sizes.
  static func decode(_ bytes: [UInt8], chunkSizes: [Int]) -> (frames: [SPDYFrame], error: (any Error)?) {
    var decoder = SPDYFrameDecoder()
    var buffer = ByteBuffer()
    var frames: [SPDYFrame] = []
    var offset = 0
    var turn = 0
    do {
      while offset < bytes.count {
        let size = min(chunkSizes[turn % chunkSizes.count], bytes.count - offset)
        buffer.writeBytes(bytes[offset..<(offset + size)])
        offset += size
        turn += 1
        while let frame = try decoder.nextFrame(from: &buffer) { frames.append(frame) }
      }
    } catch {
      return (frames, error)
    }
    return (frames, nil)
  }

  @Test func fuzzFrameDecoder() async throws {
    var decoded = 0
    try await Fuzzer(target: "spdy-frames", seeds: Self.seeds, dictionary: Self.dictionary, maxLength: 16 << 10).run { input in
      let whole = Self.decode(input, chunkSizes: [input.count])
      let split = Self.decode(input, chunkSizes: [1, 7, 64, 3])
      for error in [whole.error, split.error].compactMap({ $0 }) where !(error is SPDYError) {
        throw FuzzViolation("the decoder threw \(type(of: error)): \(error)")
      }
      guard whole.frames == split.frames, (whole.error == nil) == (split.error == nil) else {
        throw FuzzViolation("whole: \(whole.frames) \(String(describing: whole.error)); split: \(split.frames) \(String(describing: split.error))")
      }
      decoded += whole.frames.count
    }
    #expect(decoded > 0)
  }

  @Test(arguments: [SPDYRole.server, .client])
  func fuzzSession(role: SPDYRole) async throws {
    var budget = FuzzBudget.fromEnvironment()
    budget.seconds /= 2  // two roles share the target's time
    try await Fuzzer(
      target: "spdy-session-\(role)", seeds: Self.seeds, dictionary: Self.dictionary, maxLength: 16 << 10, budget: budget
    ).run { input in
      var peer = try await PeerHarness(role: role)
      do {
        try await peer.sendRaw(input)
      } catch is SPDYError {
        // A protocol error: the session answers GOAWAY and closes.
      }
      // What the session wrote back must be well-formed frames.
      _ = try await peer.received()
      try? await peer.channel.close()
    }
  }
}
