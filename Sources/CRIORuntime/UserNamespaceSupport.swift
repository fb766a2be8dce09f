import CRIOSystem
import Foundation
import Glibc
import Synchronization

/// Whether pods can run in user namespaces on this host, found out once by
/// doing what such a pod needs: a pinned user namespace with a mapping that
/// owns new network, IPC and UTS namespaces, and an overlay (a container
/// rootfs) over idmapped layers.
public enum UserNamespaceSupport {
  public enum Result: Sendable, Equatable {
    case supported
    case unsupported(String)

    public var isSupported: Bool { self == .supported }
  }

  private static let cache = Mutex<[String: Result]>([:])

  /// The probe's result for the scratch directory `scratch` (made and removed here).
  public static func probe(scratch: String) -> Result {
    if let known = cache.withLock({ $0[scratch] }) { return known }
    let result = run(scratch: scratch)
    cache.withLock { $0[scratch] = result }
    return result
  }

  private static func statvfs_readonly(_ path: String) -> Bool? {
    var st = statvfs()
    guard statvfs(path, &st) == 0 else { return nil }
    return st.f_flag & UInt(ST_RDONLY) != 0
  }

  /// Releases what a probe interrupted by a crash left in `scratch`.
  static func cleanUp(scratch: String) {
    IDMappedMount.unmountAll("\(scratch)/merged")
    _ = releaseMounts(in: "\(scratch)/i")
    NamespacePins(
      network: "\(scratch)/pins/netns/probe", ipc: "\(scratch)/pins/ipcns/probe", uts: "\(scratch)/pins/utsns/probe",
      user: "\(scratch)/pins/userns/probe"
    ).release()
    try? FileManager.default.removeItem(atPath: scratch)
  }

  private static func run(scratch: String) -> Result {
    cleanUp(scratch: scratch)
    defer { cleanUp(scratch: scratch) }
    let mapping = [IDMapping(containerID: 0, hostID: 65536, length: 65536)]
    do {
      for dir in ["lower", "merged", "pins"] {
        try FileManager.default.createDirectory(atPath: "\(scratch)/\(dir)", withIntermediateDirectories: true)
      }
      guard FileManager.default.createFile(atPath: "\(scratch)/lower/file", contents: Data()) else {
        return .unsupported("cannot write in \(scratch)")
      }
      let pins = try NamespacePins.create(
        id: "probe", under: "\(scratch)/pins", network: true, ipc: true, uts: true, hostname: "probe", sysctls: [],
        uids: mapping, gids: mapping)
      defer { pins.release() }
      guard let user = pins.user else { return .unsupported("no user namespace pin") }
      try mountOverlay(
        lowerDirectories: ["\(scratch)/lower"], layerDirectory: scratch, userns: user, rootUID: 65536, rootGID: 65536)
      var st = stat()
      guard stat("\(scratch)/merged/file", &st) == 0 else {
        return .unsupported("cannot stat a file of an overlay over idmapped layers: \(String(cString: strerror(errno)))")
      }
      guard st.st_uid == 65536, st.st_gid == 65536 else {
        return .unsupported("an overlay over idmapped layers shows owner \(st.st_uid):\(st.st_gid), not 65536:65536")
      }
      guard statvfs_readonly("\(scratch)/merged") == false else {
        return .unsupported("an overlay over idmapped layers is read-only")
      }

      return .supported
    } catch {
      return .unsupported("\(error)")
    }
  }

  /// Mounts the overlay rootfs of a container in a pod with a user namespace
  /// on `<layerDirectory>/merged`. Overlayfs cannot itself be idmapped, but
  /// its lower layers can: each gets an idmapped copy under
  /// `<layerDirectory>/i/<n>`, so the image's files owned by 0 on disk are
  /// the container root's. The upper layer cannot be idmapped (overlayfs
  /// makes its work directory as the mounter, host root, which the mapping
  /// cannot represent, and then mounts read-only): `upper` and `work` are
  /// plain directories owned by the pod root's host IDs (`rootUID`,
  /// `rootGID`), so what the container writes is stored with its host IDs.
  /// On failure, what was mounted is released.
  public static func mountOverlay(
    lowerDirectories: [String], layerDirectory: String, userns: String, rootUID: UInt32, rootGID: UInt32
  ) throws {
    let idmapped = "\(layerDirectory)/i"
    do {
      for dir in ["\(layerDirectory)/upper", "\(layerDirectory)/work", idmapped] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      }
      for dir in ["\(layerDirectory)/upper", "\(layerDirectory)/work"] where chown(dir, rootUID, rootGID) != 0 {
        throw ContainerError.runtimeFailed("cannot chown \(dir): \(String(cString: strerror(errno)))")
      }
      let lowers = try idmappedCopies(of: lowerDirectories, under: idmapped, userns: userns)
      try OverlayMount.mount(
        lowerDirectories: lowers, upper: "\(layerDirectory)/upper", work: "\(layerDirectory)/work",
        target: "\(layerDirectory)/merged")
    } catch {
      _ = releaseMounts(in: idmapped)
      throw error
    }
  }

  /// Idmapped copies of `layers` as `<directory>/<n>`, in the same order
  /// (`directory` is made here). The caller releases them on failure
  /// (`releaseMounts(in:)`).
  static func idmappedCopies(of layers: [String], under directory: String, userns: String) throws -> [String] {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var copies: [String] = []
    for (index, layer) in layers.enumerated() {
      let target = "\(directory)/\(index)"
      try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
      try IDMappedMount.mount(source: layer, target: target, userns: userns)
      copies.append(target)
    }
    return copies
  }

  /// Detaches the mounts on the entries of `directory` (idmapped layers or
  /// volumes) and removes them and it. Returns false when one is still in
  /// place: then nothing above it may be removed recursively (it would reach
  /// into an image layer or a host directory).
  public static func releaseMounts(in directory: String) -> Bool {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
      let path = "\(directory)/\(name)"
      IDMappedMount.unmountAll(path)
      // rmdir and unlink never remove what a mount left in place.
      if rmdir(path) != 0 && unlink(path) != 0 { return false }
    }
    return rmdir(directory) == 0 || errno == ENOENT
  }
}
