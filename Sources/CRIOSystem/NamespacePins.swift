import CCRIOSys
import Foundation
import Glibc

/// Network, IPC and UTS namespaces kept alive by bind mounts (as CRI-O's
/// `pinns` does), under `<dir>/netns/<id>`, `<dir>/ipcns/<id>`, `<dir>/utsns/<id>`.
public struct NamespacePins: Sendable, Equatable, Codable {
  public var network: String?
  public var ipc: String?
  public var uts: String?

  public init(network: String? = nil, ipc: String? = nil, uts: String? = nil) {
    self.network = network
    self.ipc = ipc
    self.uts = uts
  }

  public var paths: [String] { [network, ipc, uts].compactMap { $0 } }

  public struct PinError: Error, Equatable, CustomStringConvertible {
    public let description: String
  }

  /// Creates the requested namespaces and pins them. On failure nothing stays mounted or created.
  public static func create(
    id: String, under dir: String, network: Bool, ipc: Bool, uts: Bool, hostname: String,
    sysctls: [(key: String, value: String)]
  ) throws -> NamespacePins {
    var pins = NamespacePins()
    var flags: Int32 = 0
    if network { pins.network = "\(dir)/netns/\(id)"; flags |= CRIO_PIN_NET }
    if ipc { pins.ipc = "\(dir)/ipcns/\(id)"; flags |= CRIO_PIN_IPC }
    if uts { pins.uts = "\(dir)/utsns/\(id)"; flags |= CRIO_PIN_UTS }
    guard flags != 0 else { return pins }
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
        crio_pin_namespaces(
          flags, pins.network ?? "", pins.ipc ?? "", pins.uts ?? "", hostname, keyBuffer.baseAddress,
          valueBuffer.baseAddress, Int32(sysctls.count), &message, UInt(message.count))
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
