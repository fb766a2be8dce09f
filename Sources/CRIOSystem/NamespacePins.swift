import CCRIOSys
import Foundation
import Glibc

/// One range of a user namespace's ID mapping: `length` IDs from
/// `containerID` inside are `hostID`... outside.
public struct IDMapping: Sendable, Equatable, Codable {
  public var containerID: UInt32
  public var hostID: UInt32
  public var length: UInt32

  public init(containerID: UInt32, hostID: UInt32, length: UInt32) {
    self.containerID = containerID
    self.hostID = hostID
    self.length = length
  }

  /// The lines of /proc/<pid>/uid_map (or gid_map) for `mappings`.
  public static func mapText(_ mappings: [IDMapping]) -> String {
    mappings.map { "\($0.containerID) \($0.hostID) \($0.length)\n" }.joined()
  }

  /// The host ID that `id` inside maps to, if any.
  public static func host(_ id: UInt32, in mappings: [IDMapping]) -> UInt32? {
    for m in mappings where id >= m.containerID && UInt64(id) < UInt64(m.containerID) + UInt64(m.length) {
      return m.hostID + (id - m.containerID)
    }
    return nil
  }
}

/// Network, IPC and UTS namespaces kept alive by bind mounts (as CRI-O's
/// `pinns` does), under `<dir>/netns/<id>`, `<dir>/ipcns/<id>`, `<dir>/utsns/<id>`,
/// and, for a pod in a user namespace, that user namespace (which owns the
/// others) under `<dir>/userns/<id>`.
public struct NamespacePins: Sendable, Equatable, Codable {
  public var network: String?
  public var ipc: String?
  public var uts: String?
  public var user: String?

  public init(network: String? = nil, ipc: String? = nil, uts: String? = nil, user: String? = nil) {
    self.network = network
    self.ipc = ipc
    self.uts = uts
    self.user = user
  }

  public var paths: [String] { [network, ipc, uts, user].compactMap { $0 } }

  public struct PinError: Error, Equatable, CustomStringConvertible {
    public let description: String
  }

  /// Creates the requested namespaces and pins them. On failure nothing stays mounted or created.
  public static func create(
    id: String, under dir: String, network: Bool, ipc: Bool, uts: Bool, hostname: String,
    sysctls: [(key: String, value: String)], uids: [IDMapping]? = nil, gids: [IDMapping]? = nil
  ) throws -> NamespacePins {
    var pins = NamespacePins()
    var flags: Int32 = 0
    let userns = uids != nil && gids != nil
    if userns { pins.user = "\(dir)/userns/\(id)" }
    if network { pins.network = "\(dir)/netns/\(id)"; flags |= CRIO_PIN_NET }
    if ipc { pins.ipc = "\(dir)/ipcns/\(id)"; flags |= CRIO_PIN_IPC }
    if uts { pins.uts = "\(dir)/utsns/\(id)"; flags |= CRIO_PIN_UTS }
    guard flags != 0 || userns else { return pins }
    for path in pins.paths {
      do {
        try FileManager.default.createDirectory(
          atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      } catch {
        throw PinError(description: "cannot create \((path as NSString).deletingLastPathComponent): \(error.localizedDescription)")
      }
      let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
      guard fd >= 0 else {
        let err = errno
        pins.release()
        throw PinError(description: "cannot create \(path): \(String(cString: strerror(err)))")
      }
      close(fd)
    }
    var message = [CChar](repeating: 0, count: 512)
    let keys = sysctls.map { strdup($0.key) }
    let values = sysctls.map { strdup($0.value) }
    defer {
      keys.forEach { free($0) }
      values.forEach { free($0) }
    }
    let rc = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { keyBuffer in
      values.map { UnsafePointer($0) }.withUnsafeBufferPointer { valueBuffer in
        if let uids, let gids {
          crio_pin_userns_namespaces(
            pins.user ?? "", IDMapping.mapText(uids), IDMapping.mapText(gids), flags, pins.network ?? "",
            pins.ipc ?? "", pins.uts ?? "", hostname, keyBuffer.baseAddress, valueBuffer.baseAddress,
            Int32(sysctls.count), &message, UInt(message.count))
        } else {
          crio_pin_namespaces(
            flags, pins.network ?? "", pins.ipc ?? "", pins.uts ?? "", hostname, keyBuffer.baseAddress,
            valueBuffer.baseAddress, Int32(sysctls.count), &message, UInt(message.count))
        }
      }
    }
    guard rc == 0 else {
      pins.release()
      throw PinError(description: String(cString: message))
    }
    return pins
  }

  /// Unmounts and removes the pins. Safe to call again, and on pins whose
  /// mounts are already gone (after a reboot).
  public func release() {
    for path in paths {
      _ = crio_unmount(path)
      unlink(path)
    }
  }

  /// True when every pin is still a mounted namespace (not an empty file left by a reboot).
  public var areMounted: Bool {
    // NSFS_MAGIC: the file is a namespace, not the empty placeholder.
    paths.allSatisfy { crio_fs_type($0) == 0x6e73_6673 }
  }
}

/// Idmapped mounts (a container's rootfs and volumes in a pod with a user namespace).
public enum IDMappedMount {
  /// How an idmapped copy propagates. A copy of a shared mount left as is
  /// would be a peer of the host's: detaching what is mounted under the copy
  /// would then detach it on the host too.
  public enum Propagation: Sendable {
    /// Neither receives nor sends mount events.
    case `private`
    /// Receives what is mounted in the source's peer group afterwards (the
    /// source must be shared or a slave), sends nothing back.
    case slave

    var flag: Int32 {
      switch self {
      case .private: CRIO_IDMAP_PRIVATE
      case .slave: CRIO_IDMAP_SLAVE
      }
    }
  }

  /// Mounts an idmapped copy of the mount at `source` on `target`, mapped
  /// through the user namespace pinned at `userns`.
  public static func mount(
    source: String, target: String, userns: String, recursive: Bool = false, propagation: Propagation = .private
  ) throws {
    let rc = crio_idmap_mount(source, target, userns, recursive ? 1 : 0, propagation.flag)
    guard rc == 0 else {
      throw NamespacePins.PinError(
        description: "cannot make an idmapped mount of \(source) on \(target): \(String(cString: strerror(-rc)))")
    }
  }

  /// Detaches every mount stacked at `path` (at most `limit`).
  public static func unmountAll(_ path: String, limit: Int = 8) {
    for _ in 0..<limit where crio_unmount(path) == 0 {}
  }
}

/// A tmpfs mount (a pod's /dev/shm).
public enum TmpfsMount {
  public static func mount(at path: String, sizeBytes: UInt64, mode: UInt32 = 0o1777) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    let rc = crio_mount_tmpfs(path, sizeBytes, mode)
    guard rc == 0 else {
      throw NamespacePins.PinError(description: "cannot mount tmpfs at \(path): \(String(cString: strerror(-rc)))")
    }
  }

  public static func unmount(_ path: String) {
    _ = crio_unmount(path)
  }
}
