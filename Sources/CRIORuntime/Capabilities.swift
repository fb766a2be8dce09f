import Foundation

/// Linux capabilities by name, and the set a container gets: the
/// configured defaults, the CRI's add and drop lists (with `ALL`), or every
/// capability for a privileged container; always limited to what this
/// process itself may hand out (its bounding set), as containerd does: runc
/// fails with "unable to apply caps" when asked for more.
public enum Capabilities {
  /// Every capability the kernel knows, in bit order (`CAP_CHOWN` is bit 0).
  public static let known: [String] = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
  ]

  /// The names set in a `/proc/<pid>/status` mask such as `CapBnd`.
  public static func names(inMask mask: UInt64) -> Set<String> {
    Set(known.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element))
  }

  /// A `/proc/<pid>/status` capability line's mask (`CapEff:\t000001fffeffffff`).
  static func mask(_ field: String, inStatus status: String) -> UInt64? {
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("\(field):") }) else { return nil }
    return UInt64(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "", radix: 16)
  }

  private static func ownMask(_ field: String) -> UInt64? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    return mask(field, inStatus: status)
  }

  /// What this process may hand out (its bounding set), by name without `CAP_`.
  public static let boundingSet: Set<String> = names(inMask: ownMask("CapBnd") ?? 0)

  /// What this process holds right now (its effective set).
  public static let effectiveSet: Set<String> = names(inMask: ownMask("CapEff") ?? 0)

  /// `net_admin`, `CAP_NET_ADMIN` and `NET_ADMIN` are all `NET_ADMIN`; `all` is `ALL`.
  public static func normalize(_ name: String) throws -> String {
    var upper = name.trimmingCharacters(in: .whitespaces).uppercased()
    if upper.hasPrefix("CAP_") { upper.removeFirst(4) }
    guard upper == "ALL" || known.contains(upper) else { throw ContainerError.invalid("unknown capability \"\(name)\"") }
    return upper
  }

  /// The result of resolving a container's capabilities.
  public struct Resolution: Sendable, Equatable {
    /// Granted capabilities, `CAP_` names in bit order.
    public var granted: [String]
    /// Asked for (by default, add or privilege) but outside this process's bounding set.
    public var unavailable: [String]
  }

  /// CRI-O's order: `ALL` in add, then `ALL` in drop, then the single adds,
  /// then the single drops (so drop `ALL` + add `NET_ADMIN` is only
  /// `NET_ADMIN`, add `ALL` + drop `CHOWN` is everything but `CHOWN`).
  public static func resolve(
    defaults: [String], add: [String], drop: [String], privileged: Bool, bounding: Set<String> = boundingSet
  ) throws -> Resolution {
    var wanted: Set<String>
    if privileged {
      wanted = Set(known)
    } else {
      let add = try add.map(normalize)
      let drop = try drop.map(normalize)
      // An unknown default is a configuration problem, not the request's: it is only left out.
      wanted = Set(defaults.compactMap { try? normalize($0) }.filter { $0 != "ALL" })
      if add.contains("ALL") { wanted = Set(known) }
      if drop.contains("ALL") { wanted = [] }
      wanted.formUnion(add.filter { $0 != "ALL" })
      wanted.subtract(drop.filter { $0 != "ALL" })
    }
    let ordered = known.filter { wanted.contains($0) }
    return Resolution(
      granted: ordered.filter { bounding.contains($0) }.map { "CAP_\($0)" },
      // Privileged asks for everything: what the host lacks is expected, not worth reporting.
      unavailable: privileged ? [] : ordered.filter { !bounding.contains($0) })
  }
}
