import CRIOConfig
import CRIOSystem
import Foundation

/// Where the image store keeps things under `[crio] root`, named as
/// containers/storage names them so an admin finds the usual directories.
public struct ImageStoreLayout: Sendable, Equatable {
  public let root: String

  public init(root: String) {
    self.root = root
  }

  /// Image metadata: manifests, configs, the name index.
  public var imagesDir: String { "\(root)/overlay-images" }
  /// Layer metadata.
  public var layersDir: String { "\(root)/overlay-layers" }
  /// Extracted layers (the overlayfs lower dirs).
  public var layerDataDir: String { "\(root)/overlay" }
  /// Per-container writable layers.
  public var containersDir: String { "\(root)/overlay-containers" }
  /// Content-addressed manifests and configs: `blobs/sha256/<hex>`.
  public var blobsDir: String { "\(imagesDir)/blobs" }
  /// Downloads and unpacks in progress; emptied at start-up.
  public var stagingDir: String { "\(root)/overlay-staging" }
  /// The image index.
  public var imagesIndex: String { "\(imagesDir)/images.json" }
  /// The layer index.
  public var layersIndex: String { "\(layersDir)/layers.json" }

  /// The directory holding an unpacked layer, by chain ID.
  public func layerDirectory(chainID: String) -> String {
    "\(layerDataDir)/\(chainID.replacingOccurrences(of: "sha256:", with: ""))"
  }

  /// The unpacked content of a layer (an overlay lower dir).
  public func layerDiff(chainID: String) -> String { "\(layerDirectory(chainID: chainID))/diff" }

  public func blobPath(_ digest: String) -> String {
    let parts = digest.split(separator: ":", maxSplits: 1)
    return parts.count == 2 ? "\(blobsDir)/\(parts[0])/\(parts[1])" : "\(blobsDir)/invalid/\(digest)"
  }

  /// Creates the store's directories (mode 0700, as containers/storage
  /// does), except the root and the containers' directory: 0711 (search
  /// only), so that runc, running as a container's root in a pod's user
  /// namespace (a host UID with no rights on these directories), can reach
  /// the container's rootfs and volumes to bind-mount them.
  public func create() throws {
    for dir in [root, imagesDir, layersDir, layerDataDir, containersDir, blobsDir, "\(blobsDir)/sha256", stagingDir] {
      try FileManager.default.createDirectory(
        atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
    for dir in [root, containersDir] {
      _ = chmod(dir, 0o711)
    }
  }

  /// What the store uses on disk: image metadata, layers and containers'
  /// writable layers. As in CRI-O without a separate image store, `ImageFsInfo`
  /// reports this one figure for both the image and the container filesystem.
  public func usage() -> DiskUsage {
    var total = DiskUsage()
    for dir in [imagesDir, layersDir, layerDataDir, containersDir] {
      let usage = DiskUsage.measure(dir)
      total.bytes += usage.bytes
      total.inodes += usage.inodes
    }
    return total
  }
}
