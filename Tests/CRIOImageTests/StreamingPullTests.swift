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

  @Test(arguments: Compressor.allCases)
  func aLayerUnpackedFromAChannelMatchesTheSameLayerUnpackedFromAFile(_ compressor: Compressor) async throws {
    try requireRoot()
    let scratch = try Scratch()
    defer { scratch.remove() }
    var tar = TarWriter()
    tar.directory("etc/", mode: 0o755)
    tar.file("etc/hostname", "streamed\n")
    tar.add(.init(name: "big.bin", content: noise(700 * 1024 + 3, seed: 7), mode: 0o644))
    let blob = try compressor.compress(tar.archive, in: scratch)
    let fromFile = try unpack(tar.archive, compressor, in: scratch, into: "file")

    // A small capacity, so the producer waits for the unpack again and again.
    let channel = ByteChannel(capacity: 8 * 1024)
    let target = try scratch.directory("channel")
    async let unpacked = ImagePuller.onThread {
      defer { channel.closeConsumer() }
      return try LayerUnpacker().unpack(channel: channel, into: target)
    }
    await Self.produce(blob, chunk: 1000, into: channel)
    let fromChannel = try await unpacked
    #expect(fromChannel == fromFile)
    #expect(fromChannel.diffID == (try sha256sum(tar.archive, in: scratch)))
    #expect(contents("\(target)/etc/hostname") == Array("streamed\n".utf8))
    #expect(contents("\(target)/big.bin") == contents(scratch.path("file/big.bin")))
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
