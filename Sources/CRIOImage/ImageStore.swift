import CRIOSystem
import Foundation
import OCI

/// The images and layers on disk, and the one place that changes them.
///
/// Layers are unpacked once into `overlay/<chain-id>/diff` and shared by every
/// image that has them. The indexes (`images.json`, `layers.json`) are
/// rewritten atomically (temp file + fsync + rename) after each change, and a
/// layer directory becomes visible only by a rename from the staging area,
/// so a crash leaves either the old or the new state, plus staging leftovers
/// that `open` removes. A committed layer enters `layers.json` with the image
/// that uses it (`commitImage`): until then a crash leaves it a directory
/// without a record, which `open` removes.
public actor ImageStore {
  public nonisolated let layout: ImageStoreLayout
  private var images: [String: ImageRecord] = [:]
  private var layers: [String: LayerRecord] = [:]
  /// Layers were committed since `layers.json` was last written.
  private var layersIndexStale = false

  public init(layout: ImageStoreLayout) async throws {
    self.layout = layout
    try layout.create()
    // Whatever was being downloaded or unpacked when the daemon stopped is garbage.
    if let leftovers = try? FileManager.default.contentsOfDirectory(atPath: layout.stagingDir) {
      for name in leftovers { try? FileManager.default.removeItem(atPath: "\(layout.stagingDir)/\(name)") }
    }
    images = try Self.readIndex(layout.imagesIndex, as: [ImageRecord].self).reduce(into: [:]) { $0[$1.id] = $1 }
    layers = try Self.readIndex(layout.layersIndex, as: [LayerRecord].self).reduce(into: [:]) { $0[$1.chainID] = $1 }
    // A layer whose directory is missing cannot be used; an image that needs it is dropped.
    for (chainID, _) in layers where !FileManager.default.fileExists(atPath: layout.layerDiff(chainID: chainID)) {
      layers[chainID] = nil
    }
    for (id, image) in images where !image.layers.allSatisfy({ layers[$0] != nil }) {
      images[id] = nil
    }
    try removeUnreferencedLayers()
    removeUnreferencedBlobs()
    try saveIndexes()
  }

  // MARK: queries

  public func list() -> [ImageRecord] {
    images.values.sorted { $0.id < $1.id }
  }

  /// Finds an image by ID (`sha256:<hex>`, `<hex>` or a unique hex prefix),
  /// by name with tag, or by name with digest.
  public func lookup(_ text: String) -> ImageRecord? {
    let bareID = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
    if let image = images[bareID] { return image }
    if let reference = try? ImageReference(parsing: text) {
      if let digest = reference.digest {
        let name = "\(reference.repository)@\(digest)"
        if let image = images.values.first(where: { $0.repoDigests.contains(name) }) { return image }
      } else if let tagged = reference.taggedName,
                let image = images.values.first(where: { $0.repoTags.contains(tagged) })
      {
        return image
      }
    }
    if bareID.count >= 3, bareID.count < 64, bareID.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
      let matches = images.keys.filter { $0.hasPrefix(bareID) }
      if matches.count == 1 { return images[matches[0]] }
    }
    return nil
  }

  public func hasLayer(_ chainID: String) -> Bool { layers[chainID] != nil }

  public func layer(_ chainID: String) -> LayerRecord? { layers[chainID] }

  // MARK: changes

  /// Moves an unpacked layer from staging into the store (or discards it when
  /// a concurrent pull already stored the same chain ID).
  public func commitLayer(_ record: LayerRecord, stagedDirectory: String) throws {
    if layers[record.chainID] != nil {
      try? FileManager.default.removeItem(atPath: stagedDirectory)
      return
    }
    let target = layout.layerDirectory(chainID: record.chainID)
    try? FileManager.default.removeItem(atPath: target)
    do {
      try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
      guard rename(stagedDirectory, layout.layerDiff(chainID: record.chainID)) == 0 else {
        throw ImageStoreError.io("cannot move layer \(record.chainID) into place: errno \(errno)")
      }
    } catch let error as ImageStoreError {
      throw error
    } catch {
      throw ImageStoreError.io("cannot create layer directory \(target): \(error.localizedDescription)")
    }
    layers[record.chainID] = record
    // Written with the image that uses the layer (one write of each index per pull).
    layersIndexStale = true
  }

  /// Records a pulled image: writes its manifest and config blobs, gives it
  /// `name`'s tag (taken from any other image that had it) and repo digest.
  ///
  /// Every file the image needs (the blobs that are missing, `layers.json`
  /// when layers were committed, `images.json`) is written to the staging
  /// directory and fsync'd in one parallel round, then renamed into place in
  /// dependency order: blobs, layers index, images index. A crash before the
  /// last rename leaves the image unrecorded (and its blobs and layers
  /// unreferenced, which `open` removes); after it, the image is complete.
  @discardableResult
  public func commitImage(
    _ candidate: ImageRecord, manifest: Data, config: Data
  ) throws -> ImageRecord {
    for layer in candidate.layers where layers[layer] == nil {
      throw ImageStoreError.invalidImage("layer \(layer) is not in the store")
    }
    var newImages = images
    var record = newImages[candidate.id] ?? candidate
    for tag in candidate.repoTags where !record.repoTags.contains(tag) {
      // A tag names one image: take it from whichever image had it.
      for (id, var other) in newImages where id != record.id && other.repoTags.contains(tag) {
        other.repoTags.removeAll { $0 == tag }
        newImages[id] = other
      }
      record.repoTags.append(tag)
    }
    for digest in candidate.repoDigests where !record.repoDigests.contains(digest) {
      record.repoDigests.append(digest)
    }
    record.pulledAt = candidate.pulledAt
    newImages[record.id] = record

    var blobs: [(Data, String)] = []
    for (data, digest) in [(manifest, candidate.manifestDigest), (config, candidate.configDigest)] {
      let path = layout.blobPath(digest)
      if !blobs.contains(where: { $0.1 == path }) && !FileManager.default.fileExists(atPath: path) {
        blobs.append((data, path))
      }
    }
    let writeLayers = layersIndexStale
    var files = blobs
    if writeLayers { files.append((try encodeLayers(layers), layout.layersIndex)) }
    files.append((try encodeImages(newImages), layout.imagesIndex))
    let staged = try Self.stage(files, staging: layout.stagingDir)
    var published = 0
    defer { for file in staged[published...] { unlink(file.temp) } }
    for file in staged.prefix(blobs.count) {
      try file.publish()
      published += 1
    }
    Failpoint.imagePullAfterMetadata.hit()
    if writeLayers {
      try staged[published].publish()
      published += 1
      layersIndexStale = false
    }
    try staged[published].publish()
    published += 1
    images = newImages
    return record
  }

  /// What `remove` did.
  public enum Removal: Equatable, Sendable {
    case untagged(String)
    case deleted(String)
    case notFound
  }

  /// Removes `name`. A tag of an image that has other tags is only untagged;
  /// otherwise (an ID, a digest, or its last tag) the image goes, and with it
  /// every layer no other image uses. `inUse` is asked before deleting.
  public func remove(_ name: String, inUse: (String) -> Bool = { _ in false }) throws -> Removal {
    guard var image = lookup(name) else { return .notFound }
    if let reference = try? ImageReference(parsing: name), reference.digest == nil,
       let tagged = reference.taggedName, image.repoTags.contains(tagged), image.repoTags.count > 1
    {
      image.repoTags.removeAll { $0 == tagged }
      images[image.id] = image
      try saveIndexes(layers: false)
      return .untagged(tagged)
    }
    guard !inUse(image.id) else { throw ImageStoreError.imageInUse(name) }
    images[image.id] = nil
    // One write of the indexes, without the image and the layers it alone used; the directories go after.
    let used = Set(images.values.flatMap(\.layers))
    let unused = layers.keys.filter { !used.contains($0) }
    for chainID in unused { layers[chainID] = nil }
    try saveIndexes(layers: !unused.isEmpty)
    Failpoint.imageRemoveAfterIndex.hit()
    try removeUnreferencedLayers()
    let stillUsed = Set(images.values.flatMap { [$0.manifestDigest, $0.configDigest] })
    for digest in [image.manifestDigest, image.configDigest] where !stillUsed.contains(digest) {
      unlink(layout.blobPath(digest))
    }
    return .deleted(image.id)
  }

  public func readBlob(_ digest: String) -> Data? {
    FileManager.default.contents(atPath: layout.blobPath(digest))
  }

  // MARK: persistence

  private func removeUnreferencedLayers() throws {
    let used = Set(images.values.flatMap(\.layers))
    var changed = false
    for chainID in layers.keys where !used.contains(chainID) {
      layers[chainID] = nil
      changed = true
    }
    // Directories without a record (a crash between rename and index write) go too.
    let known = Set(layers.keys.map { layout.layerDirectory(chainID: $0) })
    for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.layerDataDir)) ?? [] {
      let dir = "\(layout.layerDataDir)/\(name)"
      if !known.contains(dir) { try? FileManager.default.removeItem(atPath: dir) }
    }
    if changed { try saveIndexes() }
  }

  /// Manifests and configs no image names (a pull that died before it
  /// recorded its image, a removal that died before it deleted them).
  private func removeUnreferencedBlobs() {
    let used = Set(images.values.flatMap { [$0.manifestDigest, $0.configDigest] }.map(layout.blobPath))
    let directory = "\(layout.blobsDir)/sha256"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
      let path = "\(directory)/\(name)"
      if !used.contains(path) { unlink(path) }
    }
  }

  private func encodeImages(_ images: [String: ImageRecord]) throws -> Data {
    try Self.encodeIndex(images.values.sorted { $0.id < $1.id })
  }

  private func encodeLayers(_ layers: [String: LayerRecord]) throws -> Data {
    try Self.encodeIndex(layers.values.sorted { $0.chainID < $1.chainID })
  }

  private static func encodeIndex<T: Encodable>(_ records: [T]) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    do {
      return try encoder.encode(records)
    } catch {
      throw ImageStoreError.io("cannot encode the image index: \(error)")
    }
  }

  /// Writes the indexes that changed (each an fsync'd atomic write; both
  /// fsync'd at once, then renamed: the images index first).
  private func saveIndexes(images saveImages: Bool = true, layers saveLayers: Bool = true) throws {
    var files: [(Data, String)] = []
    if saveImages { files.append((try encodeImages(images), layout.imagesIndex)) }
    if saveLayers || layersIndexStale { files.append((try encodeLayers(layers), layout.layersIndex)) }
    guard !files.isEmpty else { return }
    let staged = try Self.stage(files, staging: layout.stagingDir)
    var published = 0
    defer { for file in staged[published...] { unlink(file.temp) } }
    for file in staged {
      try file.publish()
      published += 1
    }
    if saveLayers || layersIndexStale { layersIndexStale = false }
  }

  private static func readIndex<T: Decodable>(_ path: String, as type: T.Type) throws -> T where T: ExpressibleByArrayLiteral {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    do {
      return try JSONDecoder().decode(T.self, from: data)
    } catch {
      throw ImageStoreError.corruptIndex(path: path, detail: "\(error)")
    }
  }

  /// Writes `data` to a staging file, fsyncs it and renames it over `path`.
  static func atomicWrite(_ data: Data, to path: String, staging: String) throws {
    let staged = try stage([(data, path)], staging: staging)
    do {
      try staged[0].publish()
    } catch {
      unlink(staged[0].temp)
      throw error
    }
  }

  /// A file written to the staging directory and fsync'd, to be renamed over `path`.
  struct StagedFile {
    let temp: String
    let path: String

    /// Renames the staged file into place.
    func publish() throws {
      guard rename(temp, path) == 0 else { throw ImageStoreError.io("cannot write \(path): errno \(errno)") }
    }
  }

  /// Writes each `(data, path)` to its own staging file and fsyncs them all
  /// at once (one thread each: a journalling file system commits them
  /// together, so N files cost about one fsync, not N). Nothing is renamed:
  /// the caller publishes the files in the order their durability needs. On
  /// an error no staging file is left.
  static func stage(_ files: [(Data, String)], staging: String) throws -> [StagedFile] {
    var staged: [StagedFile] = []
    var fds: [Int32] = []
    func discard() {
      for fd in fds { close(fd) }
      for file in staged { unlink(file.temp) }
    }
    for (data, path) in files {
      let dir = (path as NSString).deletingLastPathComponent
      if !FileManager.default.fileExists(atPath: dir) {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      }
      let temp = "\(staging)/write-\(UUID().uuidString)"
      let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      guard fd >= 0 else {
        let error = errno
        discard()
        throw ImageStoreError.io("cannot create \(temp): errno \(error)")
      }
      fds.append(fd)
      staged.append(StagedFile(temp: temp, path: path))
      let written = data.withUnsafeBytes { bytes -> Int32 in
        var offset = 0
        while offset < bytes.count {
          let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
          if n < 0 { if errno == EINTR { continue }; return errno }
          offset += n
        }
        return 0
      }
      guard written == 0 else {
        discard()
        throw ImageStoreError.io("cannot write \(path): errno \(written)")
      }
    }
    let failures = ParallelSync.fsync(fds)
    for fd in fds { close(fd) }
    fds = []
    if let (index, error) = failures.enumerated().first(where: { $0.element != 0 }).map({ ($0.offset, $0.element) }) {
      discard()
      throw ImageStoreError.io("cannot write \(files[index].1): fsync: errno \(error)")
    }
    return staged
  }
}
