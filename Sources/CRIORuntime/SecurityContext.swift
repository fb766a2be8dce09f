import CRIOSystem
import Foundation
import OCI

/// A seccomp (or AppArmor) profile as the CRI asks for it: the `seccomp`
/// SecurityProfile message, or the deprecated `seccomp_profile_path` string.
public enum SecurityProfile: Sendable, Equatable, Codable {
  /// crio's built-in default profile (`RuntimeDefault`, `runtime/default`, `docker/default`).
  case runtimeDefault
  /// No filter.
  case unconfined
  /// A profile file on the host (`Localhost` with its `localhost_ref`, or `localhost/<path>`).
  case localhost(String)

  /// The deprecated string form; nil for "" (not set).
  public static func parse(path: String) throws -> SecurityProfile? {
    switch path {
    case "": return nil
    case "runtime/default", "docker/default": return .runtimeDefault
    case "unconfined": return .unconfined
    default:
      guard path.hasPrefix("localhost/"), path.count > "localhost/".count else {
        throw ContainerError.invalid(
          "unknown seccomp profile \"\(path)\": use runtime/default, docker/default, unconfined or localhost/<path>")
      }
      return .localhost(String(path.dropFirst("localhost/".count)))
    }
  }

  /// A `Localhost` profile's reference: a path, with or without the `localhost/` prefix.
  public static func localhost(ref: String) throws -> SecurityProfile {
    let path = ref.hasPrefix("localhost/") ? String(ref.dropFirst("localhost/".count)) : ref
    guard !path.isEmpty else { throw ContainerError.invalid("a Localhost seccomp profile needs a localhost_ref") }
    return .localhost(path)
  }
}

/// How image-defined groups combine with the requested supplemental groups.
public enum SupplementalGroupsPolicy: String, Sendable, Equatable, Codable {
  /// The groups the image's /etc/group gives the user, plus the requested ones.
  case merge
  /// Only the primary group and the requested ones.
  case strict
}

/// A container's security context, in crio's terms (from the CRI's
/// `LinuxContainerSecurityContext`; users and `readonly_rootfs` live in
/// `ContainerSpec` itself).
public struct ContainerSecurity: Sendable, Equatable, Codable {
  public var privileged: Bool
  public var addCapabilities: [String]
  public var dropCapabilities: [String]
  public var noNewPrivileges: Bool
  /// Replace the default masked paths when not empty.
  public var maskedPaths: [String]
  /// Replace the default read-only paths when not empty.
  public var readonlyPaths: [String]
  public var supplementalGroups: [Int64]
  public var supplementalGroupsPolicy: SupplementalGroupsPolicy
  /// nil: no filter (the CRI's unset profile).
  public var seccomp: SecurityProfile?
  /// Requested, not applied: this host has no AppArmor (logged).
  public var apparmorProfile: String
  /// Requested, not applied: this host has no SELinux (logged).
  public var selinuxLabel: String
  /// The container's own PID namespace request; nil: the pod's.
  public var pidMode: SandboxSpec.NamespaceMode?
  /// For `pidMode == .target`: the container whose PID namespace to join.
  public var pidTargetID: String

  public init(
    privileged: Bool = false, addCapabilities: [String] = [], dropCapabilities: [String] = [],
    noNewPrivileges: Bool = false, maskedPaths: [String] = [], readonlyPaths: [String] = [],
    supplementalGroups: [Int64] = [], supplementalGroupsPolicy: SupplementalGroupsPolicy = .merge,
    seccomp: SecurityProfile? = nil, apparmorProfile: String = "", selinuxLabel: String = "",
    pidMode: SandboxSpec.NamespaceMode? = nil, pidTargetID: String = ""
  ) {
    self.privileged = privileged
    self.addCapabilities = addCapabilities
    self.dropCapabilities = dropCapabilities
    self.noNewPrivileges = noNewPrivileges
    self.maskedPaths = maskedPaths
    self.readonlyPaths = readonlyPaths
    self.supplementalGroups = supplementalGroups
    self.supplementalGroupsPolicy = supplementalGroupsPolicy
    self.seccomp = seccomp
    self.apparmorProfile = apparmorProfile
    self.selinuxLabel = selinuxLabel
    self.pidMode = pidMode
    self.pidTargetID = pidTargetID
  }

  enum CodingKeys: String, CodingKey {
    case privileged, addCapabilities, dropCapabilities, noNewPrivileges, maskedPaths, readonlyPaths
    case supplementalGroups, supplementalGroupsPolicy, seccomp, apparmorProfile, selinuxLabel, pidMode, pidTargetID
  }

  /// Lenient: fields added later take their defaults when absent.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? false
    addCapabilities = try c.decodeIfPresent([String].self, forKey: .addCapabilities) ?? []
    dropCapabilities = try c.decodeIfPresent([String].self, forKey: .dropCapabilities) ?? []
    noNewPrivileges = try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges) ?? false
    maskedPaths = try c.decodeIfPresent([String].self, forKey: .maskedPaths) ?? []
    readonlyPaths = try c.decodeIfPresent([String].self, forKey: .readonlyPaths) ?? []
    supplementalGroups = try c.decodeIfPresent([Int64].self, forKey: .supplementalGroups) ?? []
    supplementalGroupsPolicy =
      try c.decodeIfPresent(SupplementalGroupsPolicy.self, forKey: .supplementalGroupsPolicy) ?? .merge
    seccomp = try c.decodeIfPresent(SecurityProfile.self, forKey: .seccomp)
    apparmorProfile = try c.decodeIfPresent(String.self, forKey: .apparmorProfile) ?? ""
    selinuxLabel = try c.decodeIfPresent(String.self, forKey: .selinuxLabel) ?? ""
    pidMode = try c.decodeIfPresent(SandboxSpec.NamespaceMode.self, forKey: .pidMode)
    pidTargetID = try c.decodeIfPresent(String.self, forKey: .pidTargetID) ?? ""
  }
}

/// A pod's security context (from `LinuxSandboxSecurityContext`): what its
/// containers may be, and how its infra container runs.
public struct SandboxSecurity: Sendable, Equatable, Codable {
  /// Whether the pod may hold privileged containers.
  public var privileged: Bool
  /// The infra container's seccomp profile; nil: none.
  public var seccomp: SecurityProfile?
  public var runAsUser: Int64?
  public var runAsGroup: Int64?
  public var apparmorProfile: String
  public var selinuxLabel: String

  public init(
    privileged: Bool = false, seccomp: SecurityProfile? = nil, runAsUser: Int64? = nil, runAsGroup: Int64? = nil,
    apparmorProfile: String = "", selinuxLabel: String = ""
  ) {
    self.privileged = privileged
    self.seccomp = seccomp
    self.runAsUser = runAsUser
    self.runAsGroup = runAsGroup
    self.apparmorProfile = apparmorProfile
    self.selinuxLabel = selinuxLabel
  }

  enum CodingKeys: String, CodingKey {
    case privileged, seccomp, runAsUser, runAsGroup, apparmorProfile, selinuxLabel
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? false
    seccomp = try c.decodeIfPresent(SecurityProfile.self, forKey: .seccomp)
    runAsUser = try c.decodeIfPresent(Int64.self, forKey: .runAsUser)
    runAsGroup = try c.decodeIfPresent(Int64.self, forKey: .runAsGroup)
    apparmorProfile = try c.decodeIfPresent(String.self, forKey: .apparmorProfile) ?? ""
    selinuxLabel = try c.decodeIfPresent(String.self, forKey: .selinuxLabel) ?? ""
  }
}

/// Turns a security context into the parts of the OCI spec it governs:
/// capabilities, no_new_privs, masked and read-only paths, devices, /sys,
/// seccomp, and the OOM score.
public enum SecurityContext {
  /// Masked in every unprivileged container unless the request names its own list.
  public static let defaultMaskedPaths = [
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/dev/block", "/sys/devices/virtual/powercap",
  ]
  /// Read-only in every unprivileged container unless the request names its own list.
  public static let defaultReadonlyPaths = [
    "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  ]

  /// What a request asks for that crio cannot or will not do, to be logged.
  public struct Notes: Sendable, Equatable {
    public var messages: [String] = []
  }

  /// Rejects what no container may ask for.
  public static func validate(_ spec: ContainerSpec, sandbox: SandboxSpec) throws {
    if spec.runAsGroup != nil && spec.runAsUser == nil && spec.runAsUsername.isEmpty {
      throw ContainerError.invalid("RunAsGroup is set without RunAsUser or RunAsUsername")
    }
    if spec.security.privileged && !sandbox.security.privileged {
      throw ContainerError.invalid("a privileged container needs a privileged pod sandbox")
    }
    if spec.security.pidMode == .target && spec.security.pidTargetID.isEmpty {
      throw ContainerError.invalid("PID namespace mode TARGET needs a target_id")
    }
  }

  /// Applies `security` to `runtimeSpec`, whose process, mounts and linux
  /// sections are already filled in for an unprivileged container.
  public static func apply(
    _ security: ContainerSecurity, oomScoreAdj: Int64, to runtimeSpec: inout RuntimeSpec,
    defaultCapabilities: [String], bounding: Set<String> = Capabilities.boundingSet,
    hostDevices: () -> [RuntimeSpec.Device] = SecurityContext.hostDevices
  ) throws -> Notes {
    var notes = Notes()
    let capabilities = try Capabilities.resolve(
      defaults: defaultCapabilities, add: security.addCapabilities, drop: security.dropCapabilities,
      privileged: security.privileged, bounding: bounding)
    if !capabilities.unavailable.isEmpty {
      notes.messages.append(
        "capabilities \(capabilities.unavailable.joined(separator: ", ")) are not in crio's bounding set: left out")
    }
    runtimeSpec.process.capabilities = .init(capabilities.granted)
    runtimeSpec.process.noNewPrivileges = security.noNewPrivileges
    let (adjusted, note) = OOMScore.clamp(Int(clamping: oomScoreAdj))
    runtimeSpec.process.oomScoreAdj = adjusted
    if let note { notes.messages.append(note) }

    if security.privileged {
      runtimeSpec.linux.maskedPaths = nil
      runtimeSpec.linux.readonlyPaths = nil
      runtimeSpec.linux.seccomp = nil
      runtimeSpec.linux.devices = hostDevices()
      var resources = runtimeSpec.linux.resources ?? RuntimeSpec.Resources()
      resources.devices = [.init(allow: true, access: "rwm")]
      runtimeSpec.linux.resources = resources
      for index in runtimeSpec.mounts.indices where runtimeSpec.mounts[index].type == "sysfs" {
        runtimeSpec.mounts[index].options = runtimeSpec.mounts[index].options?.map { $0 == "ro" ? "rw" : $0 }
      }
      if case .localhost(let path)? = security.seccomp {
        notes.messages.append("privileged container: seccomp profile \(path) is ignored")
      }
    } else {
      runtimeSpec.linux.maskedPaths = security.maskedPaths.isEmpty ? defaultMaskedPaths : security.maskedPaths
      runtimeSpec.linux.readonlyPaths = security.readonlyPaths.isEmpty ? defaultReadonlyPaths : security.readonlyPaths
      runtimeSpec.linux.seccomp = try SeccompProfile.filter(
        for: security.seccomp, capabilities: Set(capabilities.granted))
    }
    notes.messages += unsupportedNotes(apparmor: security.apparmorProfile, selinux: security.selinuxLabel)
    return notes
  }

  /// AppArmor and SELinux requests are accepted and not applied.
  static func unsupportedNotes(apparmor: String, selinux: String) -> [String] {
    var messages: [String] = []
    if !apparmor.isEmpty && apparmor != "unconfined" {
      let host = FileManager.default.fileExists(atPath: "/sys/kernel/security/apparmor")
        ? "crio does not apply AppArmor profiles yet" : "AppArmor is not enabled on this host"
      messages.append("AppArmor profile \(apparmor) requested: \(host); ignored")
    }
    if !selinux.isEmpty {
      let host = FileManager.default.fileExists(atPath: "/sys/fs/selinux/enforce")
        ? "crio does not apply SELinux labels yet" : "SELinux is not enabled on this host"
      messages.append("SELinux options \(selinux) requested: \(host); ignored")
    }
    return messages
  }

  /// The host's device nodes, for a privileged container's /dev.
  public static func hostDevices() -> [RuntimeSpec.Device] {
    HostDevices.list().map {
      RuntimeSpec.Device(
        path: $0.path, type: $0.type, major: $0.major, minor: $0.minor, fileMode: $0.permissions, uid: $0.uid,
        gid: $0.gid)
    }
  }
}

/// `oom_score_adj` requests, limited to what this host lets crio set: without
/// CAP_SYS_RESOURCE nothing may go below crio's own score (the kernel refuses
/// it, and runc then fails with "can't get final child's PID from pipe").
public enum OOMScore {
  /// crio's own score, read once.
  public static let own: Int = {
    guard let text = try? String(contentsOfFile: "/proc/self/oom_score_adj", encoding: .utf8) else { return 0 }
    return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
  }()

  /// The value to ask runc for, and a note when it had to change.
  public static func clamp(
    _ requested: Int, own: Int = OOMScore.own, canLower: Bool = Capabilities.effectiveSet.contains("SYS_RESOURCE")
  ) -> (Int, String?) {
    let bounded = min(max(requested, -1000), 1000)
    if !canLower && bounded < own {
      return (own, "oom_score_adj \(requested) is below what this host allows crio to set (\(own), no CAP_SYS_RESOURCE): using \(own)")
    }
    return (bounded, bounded == requested ? nil : "oom_score_adj \(requested) is out of range: using \(bounded)")
  }
}
