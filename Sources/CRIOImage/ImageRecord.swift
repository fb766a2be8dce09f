import OCI

/// One image in the store, as recorded on disk (`overlay-images/images.json`).
public struct ImageRecord: Sendable, Equatable, Codable {
  /// The image ID: the hex of its config digest (as CRI-O reports it).
  public var id: String
  /// `registry/repository:tag` names that point at this image.
  public var repoTags: [String]
  /// `registry/repository@sha256:...` names (the manifest digest per repository).
  public var repoDigests: [String]
  public var configDigest: String
  public var manifestDigest: String
  /// Chain IDs of the layers, bottom first.
  public var layers: [String]
  /// Bytes on disk: unpacked layers plus config.
  public var size: Int64
  /// The config's `User`, as written in the image.
  public var user: String
  public var pulledAt: Int64

  public init(
    id: String, repoTags: [String], repoDigests: [String], configDigest: String, manifestDigest: String,
    layers: [String], size: Int64, user: String, pulledAt: Int64
  ) {
    self.id = id
    self.repoTags = repoTags
    self.repoDigests = repoDigests
    self.configDigest = configDigest
    self.manifestDigest = manifestDigest
    self.layers = layers
    self.size = size
    self.user = user
    self.pulledAt = pulledAt
  }

  /// CRI's `uid` / `username` split of the config's `User` (`1000`, `www-data`, `1003:1004`).
  public var userID: (uid: Int64?, username: String) {
    let name = user.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
    if name.isEmpty { return (nil, "") }
    if let uid = Int64(name) { return (uid, "") }
    return (nil, name)
  }
}

/// One unpacked layer, shared by every image that has it.
public struct LayerRecord: Sendable, Equatable, Codable {
  public var chainID: String
  public var diffID: String
  /// The compressed blob it came from.
  public var blobDigest: String
  public var uncompressedSize: Int64
}

/// The chain ID of each layer (image-spec): the first is its diffID; each
/// next one is sha256 of "<previous chain ID> <diffID>".
public enum ChainID {
  public static func chain(_ diffIDs: [String]) -> [String] {
    var result: [String] = []
    for diffID in diffIDs {
      if let previous = result.last {
        result.append(SHA256Hex.digest(of: Array("\(previous) \(diffID)".utf8)))
      } else {
        result.append(diffID)
      }
    }
    return result
  }
}
