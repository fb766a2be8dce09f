import Foundation
import OCI

/// One line of `/proc/self/mountinfo`: where a mount is and how it propagates.
public struct MountInfoEntry: Sendable, Equatable {
  public var mountPoint: String
  /// The optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
  public var optionalFields: [String]

  public var isShared: Bool { optionalFields.contains { $0.hasPrefix("shared:") } }
  public var isSlave: Bool { optionalFields.contains { $0.hasPrefix("master:") } }

  /// Parses mountinfo text; lines it cannot read are skipped.
  public static func parse(_ text: String) -> [MountInfoEntry] {
    text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
      // id parent major:minor root mountpoint options [optional...] - type source superoptions
      guard fields.count >= 7, let separator = fields.firstIndex(of: "-"), separator >= 6 else { return nil }
      return MountInfoEntry(mountPoint: unescape(fields[4]), optionalFields: Array(fields[6..<separator]))
    }
  }

  /// mountinfo writes space, tab, newline and backslash as `\ooo`.
  static func unescape(_ field: String) -> String {
    guard field.contains("\\") else { return field }
    var bytes: [UInt8] = []
    let source = Array(field.utf8)
    var i = 0
    while i < source.count {
      if source[i] == UInt8(ascii: "\\"), i + 3 < source.count,
         let value = UInt8(String(decoding: source[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        i += 4
      } else {
        bytes.append(source[i])
        i += 1
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The mount `path` lives on: the last-mounted entry whose mount point is
  /// the longest prefix of it (a later mount on the same point hides earlier ones).
  public static func mount(containing path: String, in table: [MountInfoEntry]) -> MountInfoEntry? {
    var best: MountInfoEntry?
    for entry in table where contains(entry.mountPoint, path) {
      if best == nil || entry.mountPoint.count >= best!.mountPoint.count { best = entry }
    }
    return best
  }

  static func contains(_ mountPoint: String, _ path: String) -> Bool {
    if mountPoint == "/" || mountPoint == path { return true }
    return path.hasPrefix(mountPoint + "/")
  }

  /// This process's mount table. /proc files have no size: read to the end
  /// (a one-shot read stops after a page).
  public static func current() -> [MountInfoEntry] {
    guard let handle = FileHandle(forReadingAtPath: "/proc/self/mountinfo") else { return [] }
    defer { try? handle.close() }
    return parse(String(decoding: handle.readDataToEndOfFile(), as: UTF8.self))
  }
}

/// The container's bind mounts: propagation and read-only options, checked
/// against the host's mount table as CRI-O does.
enum BindMounts {
  /// Rejects what cannot work: bidirectional propagation from a source that
  /// is not on a shared mount, host-to-container from one that is neither
  /// shared nor a slave (CRI-O refuses these too instead of changing the
  /// host's mounts), and recursive read-only mounts the runtime cannot make,
  /// or that are writable or propagate. `path` is resolved (symbolic links) first.
  static func validate(
    _ mounts: [ContainerSpec.Mount], table: [MountInfoEntry], recursiveReadOnlySupported: Bool,
    resolve: (String) -> String = { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
  ) throws {
    for mount in mounts {
      if mount.recursiveReadOnly {
        guard mount.readonly else {
          throw ContainerError.invalid(
            "recursive read-only mount conflicts with a read-write mount for host path \(mount.hostPath)")
        }
        guard recursiveReadOnlySupported else {
          throw ContainerError.invalid(
            "recursive read-only mounts are not supported by this runtime (host path \(mount.hostPath))")
        }
        guard mount.propagation == .private else {
          throw ContainerError.invalid(
            "recursive read-only mount requires private propagation for host path \(mount.hostPath), got \(mount.propagation.criName)")
        }
      }
      guard mount.propagation != .private else { continue }
      let source = resolve(mount.hostPath)
      guard let host = MountInfoEntry.mount(containing: source, in: table) else {
        throw ContainerError.failedPrecondition("cannot find the mount of \(source)")
      }
      switch mount.propagation {
      case .bidirectional where !host.isShared:
        throw ContainerError.failedPrecondition(
          "path \(mount.hostPath) is mounted on \(host.mountPoint) but it is not a shared mount: bidirectional propagation needs one")
      case .hostToContainer where !host.isShared && !host.isSlave:
        throw ContainerError.failedPrecondition(
          "path \(mount.hostPath) is mounted on \(host.mountPoint) but it is not a shared or slave mount: host-to-container propagation needs one")
      default:
        break
      }
    }
  }

  /// The OCI mount for a CRI bind mount: `rbind`, the propagation, and `ro`
  /// (top mount only), `rro` (all submounts too) or `rw`.
  static func ociMount(_ mount: ContainerSpec.Mount) -> RuntimeSpec.Mount {
    // An image volume: crio's own read-only overlay (or a directory in it),
    // with no submounts and nothing to propagate.
    if mount.image != nil {
      return .init(destination: mount.containerPath, type: "bind", source: mount.hostPath, options: ["rbind", "rprivate", "ro"])
    }
    var options = ["rbind"]
    switch mount.propagation {
    case .private: options.append("rprivate")
    case .hostToContainer: options.append("rslave")
    case .bidirectional: options.append("rshared")
    }
    options.append(mount.recursiveReadOnly ? "rro" : (mount.readonly ? "ro" : "rw"))
    return .init(destination: mount.containerPath, type: "bind", source: mount.hostPath, options: options)
  }

  /// The rootfs propagation the mounts need: `rshared` for a bidirectional
  /// one (so mounts made in the container reach the host's peer group),
  /// else `rslave` for a host-to-container one, else the runtime's default.
  static func rootfsPropagation(_ mounts: [ContainerSpec.Mount]) -> String? {
    let mounts = mounts.filter { $0.image == nil }
    if mounts.contains(where: { $0.propagation == .bidirectional }) { return "rshared" }
    if mounts.contains(where: { $0.propagation == .hostToContainer }) { return "rslave" }
    return nil
  }
}

extension ContainerSpec.Mount.Propagation {
  /// The CRI enum's name.
  public var criName: String {
    switch self {
    case .private: "PROPAGATION_PRIVATE"
    case .hostToContainer: "PROPAGATION_HOST_TO_CONTAINER"
    case .bidirectional: "PROPAGATION_BIDIRECTIONAL"
    }
  }
}
