@testable import CRIOImage
import CRIOSystem
import Foundation
import Glibc
import Testing

/// The store's commit of a pulled image: every file it needs fsync'd in one
/// parallel round, then renamed into place in dependency order; a layer
/// enters the layers index with the image that uses it.
@Suite struct ImageStoreCommitTests {
  @Test func aCommittedImageAndItsLayersSurviveAReopenAndALayerWithoutAnImageDoesNot() async throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    let layout = ImageStoreLayout(root: scratch.path("root"))
    let store = try await ImageStore(layout: layout)
    func stagedLayer(_ name: String) throws -> String {
      let dir = "\(layout.stagingDir)/\(name).dir"
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      _ = FileManager.default.createFile(atPath: "\(dir)/file", contents: Data(name.utf8))
      return dir
    }
    let used = "sha256:" + String(repeating: "a", count: 64)
    let orphan = "sha256:" + String(repeating: "b", count: 64)
    for chainID in [used, orphan] {
      try await store.commitLayer(
        LayerRecord(chainID: chainID, diffID: chainID, blobDigest: chainID, uncompressedSize: 1),
        stagedDirectory: try stagedLayer(String(chainID.suffix(8))))
    }
    let manifest = Data("{\"manifest\":1}".utf8)
    let config = Data("{\"config\":1}".utf8)
    let record = ImageRecord(
      id: String(repeating: "c", count: 64), repoTags: ["example.test/one:1"], repoDigests: [],
      configDigest: SHA256Hex.digest(of: Array(config)), manifestDigest: SHA256Hex.digest(of: Array(manifest)),
      layers: [used], size: 1, user: "", pulledAt: 1)
    try await store.commitImage(record, manifest: manifest, config: config)
    #expect(await store.readBlob(record.manifestDigest) == manifest)
    #expect(await store.readBlob(record.configDigest) == config)
    #expect((try? FileManager.default.contentsOfDirectory(atPath: layout.stagingDir)) == [])

    // Reopened (as after a crash): the image and its layer are there; the
    // layer no image uses is gone, directory and all.
    let reopened = try await ImageStore(layout: layout)
    #expect(await reopened.lookup("example.test/one:1")?.id == record.id)
    #expect(await reopened.hasLayer(used))
    #expect(await reopened.hasLayer(orphan) == false)
    #expect(FileManager.default.fileExists(atPath: layout.layerDiff(chainID: used)))
    #expect(!FileManager.default.fileExists(atPath: layout.layerDirectory(chainID: orphan)))
  }

  @Test func parallelFsyncReportsEachResult() throws {
    let scratch = try Scratch()
    defer { scratch.remove() }
    var fds: [Int32] = []
    for i in 0..<4 {
      let fd = open(scratch.path("f\(i)"), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
      try #require(fd >= 0)
      fds.append(fd)
    }
    defer { for fd in fds where fd >= 0 { close(fd) } }
    #expect(ParallelSync.fsync(fds) == [0, 0, 0, 0])
    // A bad descriptor (-1: a closed one's number may be reused by a test
    // running alongside) fails with EBADF, the others still sync.
    #expect(ParallelSync.fsync([fds[0], -1, fds[1]]) == [0, EBADF, 0])
  }
}
