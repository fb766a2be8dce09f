import Foundation
import OCI

/// Seccomp filters for containers: crio's built-in default, and profile
/// files from the host (`Localhost`), in the runtime spec's form.
public enum SeccompProfile {
  static let eperm: UInt32 = 1
  static let enosys: UInt32 = 38

  /// A group of system calls the default profile refuses, unless the
  /// container holds one of `unless` (capability names without `CAP_`).
  struct Denial {
    var names: [String]
    var unless: [String] = []
    var errno: UInt32 = SeccompProfile.eperm
    var args: [RuntimeSpec.SyscallArg] = []
  }

  /// Namespace flags of clone(2): creating namespaces needs CAP_SYS_ADMIN.
  static let cloneNamespaceFlags: [UInt64] = [
    0x0000_0080,  // CLONE_NEWTIME
    0x0002_0000,  // CLONE_NEWNS
    0x0200_0000,  // CLONE_NEWCGROUP
    0x0400_0000,  // CLONE_NEWUTS
    0x0800_0000,  // CLONE_NEWIPC
    0x1000_0000,  // CLONE_NEWUSER
    0x2000_0000,  // CLONE_NEWPID
    0x4000_0000,  // CLONE_NEWNET
  ]

  /// The default profile's refusals. Everything else is allowed, so
  /// ordinary programs run unchanged; what is refused is what the
  /// containers ecosystem's default profile (moby, containers-common)
  /// keeps from a container without the matching capability: kernel
  /// modules and kexec, the kernel keyring, mounts and namespaces, clock
  /// and host name changes, raw I/O, accounting, obsolete and risky calls.
  static let denials: [Denial] = [
    Denial(names: [
      "add_key", "bdflush", "create_module", "get_kernel_syms", "kexec_file_load", "kexec_load", "keyctl",
      "nfsservctl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write", "request_key", "swapoff", "swapon",
      "_sysctl", "sysfs", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
    ]),
    // io_uring bypasses the filter for the operations it submits: "not there", so callers fall back.
    Denial(names: ["io_uring_enter", "io_uring_register", "io_uring_setup"], errno: SeccompProfile.enosys),
    Denial(
      names: [
        "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
        "move_mount", "open_tree", "pivot_root", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
        "umount", "umount2", "unshare",
      ], unless: ["SYS_ADMIN"]),
    // clone3 hides its flags in memory a filter cannot read: "not there", so libc falls back to clone.
    Denial(names: ["clone3"], unless: ["SYS_ADMIN"], errno: SeccompProfile.enosys),
    Denial(names: ["bpf"], unless: ["SYS_ADMIN", "BPF"]),
    Denial(names: ["perf_event_open"], unless: ["SYS_ADMIN", "PERFMON"]),
    Denial(names: ["delete_module", "finit_module", "init_module", "query_module"], unless: ["SYS_MODULE"]),
    Denial(names: ["acct"], unless: ["SYS_PACCT"]),
    Denial(names: ["kcmp", "process_madvise"], unless: ["SYS_PTRACE"]),
    Denial(names: ["ioperm", "iopl"], unless: ["SYS_RAWIO"]),
    Denial(names: ["clock_settime", "clock_settime64", "settimeofday", "stime"], unless: ["SYS_TIME"]),
    Denial(names: ["vhangup"], unless: ["SYS_TTY_CONFIG"]),
    Denial(names: ["reboot"], unless: ["SYS_BOOT"]),
    Denial(names: ["chroot"], unless: ["SYS_CHROOT"]),
    Denial(names: ["open_by_handle_at"], unless: ["DAC_READ_SEARCH"]),
    Denial(names: ["syslog"], unless: ["SYSLOG", "SYS_ADMIN"]),
    // Moving another process's memory between NUMA nodes.
    Denial(names: ["migrate_pages", "move_pages"], unless: ["SYS_NICE"]),
    // vsock reaches the hypervisor, not the pod network.
    Denial(names: ["socket"], args: [.init(index: 0, value: 40, op: "SCMP_CMP_EQ")]),
  ] + cloneNamespaceFlags.map {
    Denial(names: ["clone"], unless: ["SYS_ADMIN"], args: [.init(index: 0, value: $0, valueTwo: $0, op: "SCMP_CMP_MASKED_EQ")])
  }

  /// The seccomp architectures of this machine: the native one and the
  /// ones its kernel also runs, so a 32-bit call cannot slip past.
  static var nativeArchitectures: [String] {
    #if arch(x86_64)
      ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    #elseif arch(arm64)
      ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    #else
      []
    #endif
  }

  /// The Go architecture name profiles use in `includes.arches` (`amd64`, `arm64`).
  static var nativeGoArchitecture: String {
    #if arch(x86_64)
      "amd64"
    #elseif arch(arm64)
      "arm64"
    #else
      ""
    #endif
  }

  /// crio's default profile for a container holding `capabilities`
  /// (`CAP_` names): refusals lift with the capability that governs them.
  public static func runtimeDefault(capabilities: Set<String>) -> RuntimeSpec.Seccomp {
    let held = Set(capabilities.map { $0.hasPrefix("CAP_") ? String($0.dropFirst(4)) : $0 })
    var rules: [RuntimeSpec.Syscall] = []
    for denial in denials where !denial.unless.contains(where: held.contains) {
      rules.append(
        .init(names: denial.names, action: "SCMP_ACT_ERRNO", errnoRet: denial.errno,
              args: denial.args.isEmpty ? nil : denial.args))
    }
    let architectures = nativeArchitectures
    return RuntimeSpec.Seccomp(
      defaultAction: "SCMP_ACT_ALLOW", architectures: architectures.isEmpty ? nil : architectures, syscalls: rules)
  }

  /// The filter for a request: none for nil and `unconfined`.
  public static func filter(for profile: SecurityProfile?, capabilities: Set<String>) throws -> RuntimeSpec.Seccomp? {
    switch profile {
    case nil, .unconfined?: return nil
    case .runtimeDefault?: return runtimeDefault(capabilities: capabilities)
    case .localhost(let path)?: return try load(path: path, capabilities: capabilities)
    }
  }

  // MARK: profile files

  /// The JSON of a profile file: the moby / containers-common format
  /// (`names` or the old `name`, `archMap`, capability and architecture
  /// `includes`/`excludes`), which also reads the runtime spec's own form.
  struct File: Decodable {
    struct ArchMap: Decodable {
      var architecture: String
      var subArchitectures: [String]?
    }
    struct Filter: Decodable {
      var caps: [String]?
      var arches: [String]?
    }
    struct Rule: Decodable {
      var names: [String]?
      var name: String?
      var action: String
      var errnoRet: UInt32?
      var args: [RuntimeSpec.SyscallArg]?
      var includes: Filter?
      var excludes: Filter?
    }
    var defaultAction: String
    var defaultErrnoRet: UInt32?
    var architectures: [String]?
    var archMap: [ArchMap]?
    var flags: [String]?
    var syscalls: [Rule]?
  }

  static let actions: Set<String> = [
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
  ]

  /// Reads a profile file from the host (absolute path) for a container holding `capabilities`.
  public static func load(path: String, capabilities: Set<String>) throws -> RuntimeSpec.Seccomp {
    guard path.hasPrefix("/") else {
      throw ContainerError.invalid("seccomp profile path \(path) is not absolute")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ContainerError.invalid("cannot read seccomp profile \(path)")
    }
    let file: File
    do {
      file = try JSONDecoder().decode(File.self, from: data)
    } catch {
      throw ContainerError.invalid("seccomp profile \(path) is not a valid profile: \(error)")
    }
    return try convert(file, path: path, capabilities: capabilities)
  }

  static func convert(_ file: File, path: String, capabilities: Set<String>) throws -> RuntimeSpec.Seccomp {
    let held = Set(capabilities.map { $0.hasPrefix("CAP_") ? $0 : "CAP_\($0)" })
    func normalizedCap(_ name: String) -> String {
      let upper = name.uppercased()
      return upper.hasPrefix("CAP_") ? upper : "CAP_\(upper)"
    }
    guard actions.contains(file.defaultAction) else {
      throw ContainerError.invalid("seccomp profile \(path): unknown defaultAction \(file.defaultAction)")
    }
    var architectures = file.architectures ?? []
    if architectures.isEmpty, let map = file.archMap {
      let native = nativeArchitectures.first
      if let entry = map.first(where: { $0.architecture == native }) {
        architectures = [entry.architecture] + (entry.subArchitectures ?? [])
      }
    }
    var rules: [RuntimeSpec.Syscall] = []
    for rule in file.syscalls ?? [] {
      guard actions.contains(rule.action) else {
        throw ContainerError.invalid("seccomp profile \(path): unknown action \(rule.action)")
      }
      if let caps = rule.includes?.caps, !caps.allSatisfy({ held.contains(normalizedCap($0)) }) { continue }
      if let arches = rule.includes?.arches, !arches.isEmpty, !arches.contains(nativeGoArchitecture) { continue }
      if let caps = rule.excludes?.caps, caps.contains(where: { held.contains(normalizedCap($0)) }) { continue }
      if let arches = rule.excludes?.arches, arches.contains(nativeGoArchitecture) { continue }
      let names = (rule.names ?? []) + (rule.name.map { [$0] } ?? [])
      guard !names.isEmpty else { continue }
      rules.append(.init(names: names, action: rule.action, errnoRet: rule.errnoRet, args: rule.args))
    }
    return RuntimeSpec.Seccomp(
      defaultAction: file.defaultAction, defaultErrnoRet: file.defaultErrnoRet,
      architectures: architectures.isEmpty ? nil : architectures, flags: file.flags,
      syscalls: rules.isEmpty ? nil : rules)
  }
}
