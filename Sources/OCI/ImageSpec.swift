/// Value types of the OCI image spec (and the Docker schema 2 documents that share its shape).

/// A reference to content by digest: image-spec `descriptor`.
public struct Descriptor: Sendable, Hashable, Codable {
  public var mediaType: String
  public var digest: Digest
  public var size: Int64
  public var urls: [String]?
  public var annotations: [String: String]?
  public var platform: Platform?

  public init(mediaType: String, digest: Digest, size: Int64, platform: Platform? = nil) {
    self.mediaType = mediaType
    self.digest = digest
    self.size = size
    self.platform = platform
  }
}

/// image-spec `platform`.
public struct Platform: Sendable, Hashable, Codable {
  public var architecture: String
  public var os: String
  public var variant: String?
  public var osVersion: String?
  public var osFeatures: [String]?

  enum CodingKeys: String, CodingKey {
    case architecture, os, variant
    case osVersion = "os.version"
    case osFeatures = "os.features"
  }

  public init(architecture: String, os: String, variant: String? = nil) {
    self.architecture = architecture
    self.os = os
    self.variant = variant
  }
}

/// image-spec `manifest` (also Docker schema 2 manifest).
public struct ImageManifest: Sendable, Hashable, Codable {
  public var schemaVersion: Int
  public var mediaType: String?
  public var config: Descriptor
  public var layers: [Descriptor]
  public var annotations: [String: String]?
}

/// image-spec `index` (also Docker manifest list).
public struct ImageIndex: Sendable, Hashable, Codable {
  public var schemaVersion: Int
  public var mediaType: String?
  public var manifests: [Descriptor]
  public var annotations: [String: String]?
}

/// image-spec `config`: what a container made from the image runs by default.
public struct ImageConfiguration: Sendable, Hashable, Codable {
  public var created: String?
  public var author: String?
  public var architecture: String
  public var os: String
  public var variant: String?
  public var config: ExecutionConfig?
  public var rootfs: RootFS

  public struct ExecutionConfig: Sendable, Hashable, Codable {
    public var user: String?
    public var exposedPorts: [String: EmptyObject]?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var volumes: [String: EmptyObject]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var stopSignal: String?

    enum CodingKeys: String, CodingKey {
      case user = "User", exposedPorts = "ExposedPorts", env = "Env", entrypoint = "Entrypoint"
      case cmd = "Cmd", volumes = "Volumes", workingDir = "WorkingDir", labels = "Labels"
      case stopSignal = "StopSignal"
    }
  }

  public struct RootFS: Sendable, Hashable, Codable {
    public var type: String
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
      case type
      case diffIDs = "diff_ids"
    }
  }
}

/// The `{}` values of image-spec maps such as `ExposedPorts`.
public struct EmptyObject: Sendable, Hashable, Codable {
  public init() {}
}
