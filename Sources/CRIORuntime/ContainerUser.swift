import Foundation

/// Who a container's processes run as: uid, primary gid, and the
/// supplementary groups (the primary group first, as containerd and
/// CRI-O report them in `ContainerStatus.user`).
public struct ContainerUser: Sendable, Equatable {
  public var uid: UInt32
  public var gid: UInt32
  public var additionalGids: [UInt32]

  public init(uid: UInt32, gid: UInt32, additionalGids: [UInt32]) {
    self.uid = uid
    self.gid = gid
    self.additionalGids = additionalGids
  }

  /// One `/etc/passwd` or `/etc/group` line's fields.
  struct Entry {
    var name: String
    var id: UInt32
    /// passwd: the primary gid; group: unused.
    var gid: UInt32?
    /// group: the member user names.
    var members: [String]
  }

  static func entries(_ text: String, isGroup: Bool) -> [Entry] {
    text.split(separator: "\n").compactMap { line in
      if line.hasPrefix("#") { return nil }
      let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard fields.count >= 3, let id = UInt32(fields[2]) else { return nil }
      if isGroup {
        let members = fields.count >= 4 ? fields[3].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
        return Entry(name: fields[0], id: id, gid: nil, members: members)
      }
      return Entry(name: fields[0], id: id, gid: fields.count >= 4 ? UInt32(fields[3]) : nil, members: [])
    }
  }

  /// Resolves the request against the container's own /etc/passwd and
  /// /etc/group (under `rootfs`): the pod's `run_as_user` or
  /// `run_as_username`, else the image's `User` (`user[:group]`, names or
  /// numbers); `run_as_group` replaces the primary group. Supplementary
  /// groups: the primary group, then (policy `merge`) the groups the image
  /// lists the user in, then the requested ones.
  public static func resolve(spec: ContainerSpec, imageUser: String, rootfs: String) throws -> ContainerUser {
    let passwd = entries((try? String(contentsOfFile: "\(rootfs)/etc/passwd", encoding: .utf8)) ?? "", isGroup: false)
    let groups = entries((try? String(contentsOfFile: "\(rootfs)/etc/group", encoding: .utf8)) ?? "", isGroup: true)

    /// uid, primary gid and user name of a name or number.
    func user(_ text: String) throws -> (UInt32, UInt32, String?) {
      if let uid = UInt32(text) {
        let entry = passwd.first { $0.id == uid }
        return (uid, entry?.gid ?? 0, entry?.name)
      }
      guard let entry = passwd.first(where: { $0.name == text }) else {
        throw ContainerError.invalid("user \(text) is not in the image's /etc/passwd")
      }
      return (entry.id, entry.gid ?? entry.id, entry.name)
    }

    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var name: String? = passwd.first { $0.id == 0 }?.name
    if let runAsUser = spec.runAsUser {
      guard let value = UInt32(exactly: runAsUser) else { throw ContainerError.invalid("invalid RunAsUser \(runAsUser)") }
      (uid, gid, name) = try user(String(value))
    } else if !spec.runAsUsername.isEmpty {
      (uid, gid, name) = try user(spec.runAsUsername)
    } else if !imageUser.isEmpty {
      let parts = imageUser.split(separator: ":", maxSplits: 1).map(String.init)
      (uid, gid, name) = try user(parts[0])
      if parts.count == 2 {
        if let value = UInt32(parts[1]) {
          gid = value
        } else if let group = groups.first(where: { $0.name == parts[1] }) {
          gid = group.id
        } else {
          throw ContainerError.invalid("group \(parts[1]) is not in the image's /etc/group")
        }
      }
    }
    if let runAsGroup = spec.runAsGroup {
      guard let value = UInt32(exactly: runAsGroup) else { throw ContainerError.invalid("invalid RunAsGroup \(runAsGroup)") }
      gid = value
    }

    var additional: [UInt32] = [gid]
    if spec.security.supplementalGroupsPolicy == .merge, let name {
      additional += groups.filter { $0.members.contains(name) }.map(\.id)
    }
    for group in spec.security.supplementalGroups {
      guard let value = UInt32(exactly: group) else { throw ContainerError.invalid("invalid supplemental group \(group)") }
      additional.append(value)
    }
    var seen: Set<UInt32> = []
    return ContainerUser(uid: uid, gid: gid, additionalGids: additional.filter { seen.insert($0).inserted })
  }
}
