@testable import CRIOImage
import CRIOSystem
import CRIOTestSupport
import Foundation
import Glibc
import Testing

/// A layer unpacked while it downloads: the download feeds a `ByteChannel`,
/// the unpack reads it on a thread of its own.
@Suite struct StreamingPullTests {
  /// Feeds `bytes` into `channel` in `chunk`-sized pieces, then ends it (or fails it with `failure`).
  static func produce(_ bytes: [UInt8], chunk: Int, into channel: ByteChannel, failure: (any Error)? = nil) async {
    var offset = 0
    do {
      while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        try await channel.send(Data(bytes[offset..<end]))
        offset = end
      }
      channel.finish(failure)
    } catch {
      channel.finish(error)
    }
  }

  struct DownloadFailed: Error {}

  /// Unpacks `blob` fed through a channel in small pieces; `size` as the puller passes it (nil: streamed).
  static func unpackThroughChannel(
    _ blob: [UInt8], size: Int64?, into target: String, limits: UnpackLimits = .init()
  ) async throws -> UnpackedLayer {
    // A small capacity, so the producer waits for the unpack again and again.
    let channel = ByteChannel(capacity: 8 * 1024)
    async let unpacked = ImagePuller.onThread {
      defer { channel.closeConsumer() }
      return try LayerUnpacker(limits: limits).unpack(channel: channel, size: size, into: target)
    }
    await Self.produce(blob, chunk: 1000, into: channel)
    return try await unpacked
  }

  @Test(arguments: Compressor.allCases, [false, true])
  func aLayerUnpackedFromAChannelMatchesTheSameLayerUnpackedFromAFile(_ compressor: Compressor, whole: Bool) async throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.directory("etc/", mode: 0o755)
    tar.file("etc/hostname", "streamed\n")
    tar.add(.init(name: "big.bin", content: noise(700 * 1024 + 3, seed: 7), mode: 0o644))
    let blob = try compressor.compress(tar.archive, in: scratch)
    let fromFile = try unpack(tar.archive, compressor, in: scratch, into: "file")

    let target = try scratch.directory("channel")
    let fromChannel = try await Self.unpackThroughChannel(blob, size: whole ? Int64(blob.count) : nil, into: target)
    #expect(fromChannel == fromFile)
    #expect(fromChannel.diffID == (try sha256sum(tar.archive, in: scratch)))
    #expect(contents("\(target)/etc/hostname") == Array("streamed\n".utf8))
    #expect(contents("\(target)/big.bin") == contents(scratch.path("file/big.bin")))
  }

  /// The whole-buffer inflate (libdeflate when the host has it) falls back
  /// to zlib for what it cannot do, with zlib's results and errors.
  @Test func wholeGzipBlobsFallBackToStreamingWhereTheyMust() async throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var first = TarWriter()
    first.add(.init(name: "a.bin", content: noise(200 * 1024, seed: 11), mode: 0o644))
    let firstTar = Array(first.archive.dropLast(1024))  // no end-of-archive blocks: the next member continues it
    var second = TarWriter()
    second.file("b.txt", "second member\n")
    let tar = firstTar + second.archive
    // Two gzip members: the trailer's size is only the second's.
    let twoMembers = try Compressor.gzip.compress(firstTar, in: scratch) + Compressor.gzip.compress(second.archive, in: scratch)
    let layer = try await Self.unpackThroughChannel(
      twoMembers, size: Int64(twoMembers.count), into: try scratch.directory("two"))
    #expect(layer.diffID == (try sha256sum(tar, in: scratch)))
    #expect(contents(scratch.path("two/b.txt")) == Array("second member\n".utf8))

    // Corrupt data: zlib's error, as from a file.
    var corrupt = try Compressor.gzip.compress(tar, in: scratch)
    corrupt[corrupt.count / 2] ^= 0xff
    let corruptError = await #expect(throws: LayerError.self) {
      try await Self.unpackThroughChannel(corrupt, size: Int64(corrupt.count), into: try scratch.directory("corrupt"))
    }
    let fileError = try unpackBlobError(try scratch.write("corrupt.gz", corrupt), in: scratch)
    #expect(corruptError == fileError)

    // A bomb over the uncompressed limit: the limit's error, as from a file.
    let limits = UnpackLimits(maxUncompressedBytes: 1 << 20)
    let bomb = try Compressor.gzip.compress([UInt8](repeating: 0, count: 8 << 20), in: scratch)
    let limitError = await #expect(throws: LayerError.self) {
      try await Self.unpackThroughChannel(bomb, size: Int64(bomb.count), into: try scratch.directory("bomb"), limits: limits)
    }
    #expect(limitError == .limitExceeded(.uncompressedBytes, limit: 1 << 20, entry: nil))
  }

  @Test func aFailedDownloadFailsTheUnpack() async throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.add(.init(name: "big.bin", content: noise(300 * 1024, seed: 3), mode: 0o644))
    let blob = try Compressor.gzip.compress(tar.archive, in: scratch)
    let channel = ByteChannel(capacity: 16 * 1024)
    let target = try scratch.directory("layer")
    async let unpacked = ImagePuller.onThread {
      defer { channel.closeConsumer() }
      return try LayerUnpacker().unpack(channel: channel, into: target)
    }
    // Half the blob, then the download breaks.
    await Self.produce(Array(blob.prefix(blob.count / 2)), chunk: 4096, into: channel, failure: DownloadFailed())
    let result: Result<UnpackedLayer, any Error>
    do { result = .success(try await unpacked) } catch { result = .failure(error) }
    #expect(throws: LayerError.self) { try result.get() }
  }

  @Test func aRejectedLayerStopsTheDownload() async throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.file("../escape", "no")
    tar.add(.init(name: "big.bin", content: noise(2 << 20, seed: 5), mode: 0o644))
    let channel = ByteChannel(capacity: 64 * 1024)
    let target = try scratch.directory("layer")
    async let unpacked = ImagePuller.onThread {
      defer { channel.closeConsumer() }
      return try LayerUnpacker().unpack(channel: channel, into: target)
    }
    // The producer gets `Closed` instead of waiting forever for space.
    var sendError: (any Error)?
    var offset = 0
    while offset < tar.archive.count {
      let end = min(tar.archive.count, offset + 32 * 1024)
      do {
        try await channel.send(Data(tar.archive[offset..<end]))
      } catch {
        sendError = error
        break
      }
      offset = end
    }
    channel.finish(sendError)
    #expect(sendError is ByteChannel.Closed)
    let result: Result<UnpackedLayer, any Error>
    do { result = .success(try await unpacked) } catch { result = .failure(error) }
    let error = #expect(throws: LayerError.self) { try result.get() }
    #expect(error == .parentTraversal(entry: "../escape"))
  }
}
