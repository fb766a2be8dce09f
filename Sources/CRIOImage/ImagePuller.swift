import CRIORegistry
import CRIOSystem
import CoreMetrics
import Dispatch
import Foundation
import Logging
import OCI

/// Pulls images into the store: resolves the name through registries.conf,
/// fetches the manifest (choosing this platform from an index) and the
/// config, downloads and unpacks the missing layers in parallel, and records
/// the image only when every layer is in place.
public final class ImagePuller: Sendable {
  public let store: ImageStore
  public let client: RegistryClient
  let resolver: PullSourceResolver
  let authFile: AuthFile
  let unpacker: LayerUnpacker
  let platform: Platform
  let logger: Logger
  /// Layers downloaded at once per pull.
  let parallelLayers: Int
  private let pulls = InFlight<ImageRecord>()
  private let layerFetches = InFlight<Void>()

  public init(
    store: ImageStore, client: RegistryClient, resolver: PullSourceResolver, authFile: AuthFile = AuthFile(),
    unpacker: LayerUnpacker = LayerUnpacker(), platform: Platform = HostPlatform.current, logger: Logger,
    parallelLayers: Int = 3
  ) {
    self.store = store
    self.client = client
    self.resolver = resolver
    self.authFile = authFile
    self.unpacker = unpacker
    self.platform = platform
    self.logger = logger
    self.parallelLayers = parallelLayers
  }

  /// Pulls `image` (any reference form). Identical concurrent pulls share one download.
  public func pull(_ image: String, credentials: RegistryCredentials? = nil) async throws -> ImageRecord {
    let reference: ImageReference
    do {
      reference = try ImageReference(parsing: image)
    } catch {
      throw ImageStoreError.invalidReference("invalid image reference \"\(image)\": \(error)")
    }
    do {
      let record = try await pulls.run(reference.description) {
        try await self.pullUncoalesced(reference, credentials: credentials)
      }
      Counter(label: PullMetrics.successes).increment()
      return record
    } catch {
      Counter(label: PullMetrics.failures).increment()
      throw error
    }
  }

  private func pullUncoalesced(_ reference: ImageReference, credentials: RegistryCredentials?) async throws
    -> ImageRecord
  {
    var failures: [(PullSource, any Error)] = []
    for name in try resolver.candidates(for: reference) {
      let resolved = try resolver.resolve(name)
      for source in resolved.sources {
        let auth = credentials ?? authFile.credentials(for: source.reference.repository)
          ?? authFile.credentials(for: name.repository)
        do {
          let record = try await pull(name: name, from: source, credentials: auth)
          logger.info("Pulled image", metadata: ["image": "\(name)", "id": "\(record.id)", "from": "\(source.reference)"])
          return record
        } catch let error as RegistryError {
          logger.info("Pull attempt failed", metadata: ["source": "\(source)", "error": "\(error)"])
          failures.append((source, error))
        }
      }
    }
    // Prefer a failure that says more than "not found" when one exists.
    if let informative = failures.first(where: { if case .notFound = $0.1 as? RegistryError { return false }; return true }) {
      throw informative.1
    }
    throw failures.last?.1 ?? RegistryError.notFound(reference.description)
  }

  private func pull(name: ImageReference, from source: PullSource, credentials: RegistryCredentials?) async throws
    -> ImageRecord
  {
    var phases = PhaseTimes()
    let top = try await client.manifest(source, credentials: credentials)
    var manifest = top
    if MediaType.indexes.contains(top.mediaType) {
      let index: ImageIndex
      do {
        index = try JSONDecoder().decode(ImageIndex.self, from: top.data)
      } catch {
        throw RegistryError.invalidManifest("index of \(source.reference): \(error)")
      }
      guard let chosen = HostPlatform.select(from: index, for: platform) else {
        throw RegistryError.noMatchingPlatform("\(platform.os)/\(platform.architecture)\(platform.variant.map { "/\($0)" } ?? "")")
      }
      var platformSource = source
      platformSource.reference = source.reference.withDigest(chosen.digest)
      manifest = try await client.manifest(platformSource, credentials: credentials)
    }
    phases.mark("manifest")
    guard MediaType.manifests.contains(manifest.mediaType) else {
      throw RegistryError.unsupportedMediaType(manifest.mediaType)
    }
    let imageManifest: ImageManifest
    do {
      imageManifest = try JSONDecoder().decode(ImageManifest.self, from: manifest.data)
    } catch {
      throw RegistryError.invalidManifest("\(source.reference): \(error)")
    }
    let configData = try await client.smallBlob(imageManifest.config, from: source, credentials: credentials)
    phases.mark("config")
    let config: ImageConfiguration
    do {
      config = try JSONDecoder().decode(ImageConfiguration.self, from: configData)
    } catch {
      throw RegistryError.invalidManifest("image config \(imageManifest.config.digest): \(error)")
    }
    let diffIDs = config.rootfs.diffIDs.map(\.description)
    guard diffIDs.count == imageManifest.layers.count else {
      throw RegistryError.invalidManifest(
        "\(imageManifest.layers.count) layers but \(diffIDs.count) diff IDs in the config")
    }
    for layer in imageManifest.layers where !Self.layerMediaTypes.contains(layer.mediaType) {
      throw RegistryError.unsupportedMediaType(layer.mediaType)
    }
    let chain = ChainID.chain(diffIDs)

    try await withThrowingTaskGroup(of: Void.self) { group in
      var next = 0
      func startNext() {
        guard next < chain.count else { return }
        let i = next
        next += 1
        group.addTask {
          try await self.ensureLayer(
            index: i, chainID: chain[i], diffID: diffIDs[i], blob: imageManifest.layers[i], source: source,
            credentials: credentials)
        }
      }
      for _ in 0..<min(parallelLayers, chain.count) { startNext() }
      while try await group.next() != nil { startNext() }
    }
    phases.mark("layers")

    var size = Int64(configData.count)
    for chainID in chain { size += await store.layer(chainID)?.uncompressedSize ?? 0 }
    let record = ImageRecord(
      id: imageManifest.config.digest.encoded,
      repoTags: name.taggedName.map { [$0] } ?? [],
      repoDigests: ["\(name.repository)@\(top.digest)"],
      configDigest: imageManifest.config.digest.description,
      manifestDigest: manifest.digest.description,
      layers: chain, size: size, user: config.config?.user ?? "",
      pulledAt: Int64(Date().timeIntervalSince1970 * 1_000_000_000))
    let committed = try await store.commitImage(record, manifest: manifest.data, config: configData)
    phases.mark("commit")
    logger.debug("Pull phases", metadata: ["image": "\(name)", "phases": "\(phases.summary)"])
    return committed
  }

  static let layerMediaTypes: Set<String> = [
    MediaType.ociLayerTar, MediaType.ociLayerGzip, MediaType.ociLayerZstd, MediaType.dockerLayerGzip,
  ]

  /// Makes sure the layer with `chainID` is unpacked in the store; concurrent
  /// pulls needing the same layer share one download.
  private func ensureLayer(
    index: Int, chainID: String, diffID: String, blob: Descriptor, source: PullSource,
    credentials: RegistryCredentials?
  ) async throws {
    if await store.hasLayer(chainID) {
      Counter(label: PullMetrics.layerReuse).increment()
      return
    }
    try await layerFetches.run(chainID) {
      if await self.store.hasLayer(chainID) {
        Counter(label: PullMetrics.layerReuse).increment()
        return
      }
      let directory = "\(self.store.layout.stagingDir)/\(UUID().uuidString).dir"
      var phases = PhaseTimes()
      do {
        let unpacked = try await self.downloadAndUnpack(
          blob, from: source, credentials: credentials, into: directory, phases: &phases)
        phases.mark("unpack")
        Failpoint.imagePullAfterBlob.hit()
        Counter(label: PullMetrics.bytes, dimensions: [("mediatype", blob.mediaType)]).increment(by: Int64(blob.size))
        guard unpacked.diffID == diffID else {
          throw ImageStoreError.diffIDMismatch(layer: index, expected: diffID, actual: unpacked.diffID)
        }
        try await self.store.commitLayer(
          LayerRecord(chainID: chainID, diffID: diffID, blobDigest: blob.digest.description,
                      uncompressedSize: unpacked.uncompressedSize),
          stagedDirectory: directory)
        phases.mark("commit")
        Failpoint.imagePullAfterLayer.hit()
        self.logger.debug(
          "Layer phases", metadata: ["layer": "\(chainID)", "bytes": "\(blob.size)", "phases": "\(phases.summary)"])
      } catch {
        try? FileManager.default.removeItem(atPath: directory)
        throw error
      }
    }
  }

  /// Downloads a layer blob and unpacks it into `directory` (created here)
  /// as it arrives: the download (size and digest verified) feeds a
  /// `ByteChannel` that the unpack, on a thread of its own, reads from, so
  /// the blob is never written to disk and the two overlap (except for a
  /// small gzip blob, read whole and then inflated at once: see
  /// `LayerDecompressor.init(channel:maxBytes:wholeSize:)`). Nothing in
  /// `directory` is trusted until this returns (the digest is checked at the
  /// end of the download, the DiffID by the caller). A transient download
  /// failure starts over with an empty directory, up to the client's attempts.
  /// `phases` gets "download" (the unpack runs on until it has the rest).
  private func downloadAndUnpack(
    _ blob: Descriptor, from source: PullSource, credentials: RegistryCredentials?, into directory: String,
    phases: inout PhaseTimes
  ) async throws -> UnpackedLayer {
    var attempt = 0
    while true {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
      let channel = ByteChannel()
      let unpacker = self.unpacker
      async let unpacking = Self.onThread {
        defer { channel.closeConsumer() }
        return try unpacker.unpack(channel: channel, size: blob.size, into: directory)
      }
      var downloadError: (any Error)?
      do {
        try await client.streamBlob(blob, from: source, credentials: credentials) { try await channel.send($0) }
        channel.finish()
        phases.mark("download")
      } catch {
        channel.finish(error)
        downloadError = error
      }
      let unpacked: Result<UnpackedLayer, any Error>
      do {
        unpacked = .success(try await unpacking)
      } catch {
        unpacked = .failure(error)
      }
      guard let downloadError else { return try unpacked.get() }
      // The unpack stopped first (a rejected layer): its error says why.
      if downloadError is ByteChannel.Closed, case .failure(let error) = unpacked { throw error }
      try? FileManager.default.removeItem(atPath: directory)
      guard let registryError = downloadError as? RegistryError, registryError.isTransient,
            attempt + 1 < client.attempts, !Task.isCancelled
      else { throw downloadError }
      attempt += 1
      logger.info("retrying download", metadata: ["blob": "\(blob.digest)", "error": "\(registryError)"])
      try await Task.sleep(for: .milliseconds(100 << (attempt - 1)))
    }
  }

  /// Runs blocking work (unpacking a layer, which may wait for its
  /// download) on a thread of its own: not on Swift's cooperative pool, and
  /// not on Dispatch's, whose few threads other blocking work needs.
  static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        continuation.resume(with: Result { try work() })
      }
      thread.start()
    }
  }
}

/// Image pull metrics, through swift-metrics (no-ops unless the daemon
/// bootstraps a backend: `[crio.metrics] enable_metrics`). CRI-O's names.
enum PullMetrics {
  static let bytes = "container_runtime_crio_image_pulls_bytes_total"
  static let layerReuse = "container_runtime_crio_image_layer_reuse_total"
  static let successes = "container_runtime_crio_image_pulls_success_total"
  static let failures = "container_runtime_crio_image_pulls_failure_total"
}
