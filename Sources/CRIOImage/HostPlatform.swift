import Glibc
import OCI

/// The platform images are selected for from a multi-platform index.
public enum HostPlatform {
  /// linux plus this machine's architecture in OCI's names.
  public static var current: Platform {
    var name = utsname()
    uname(&name)
    let machine = withUnsafeBytes(of: name.machine) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    switch machine {
    case "x86_64": return Platform(architecture: "amd64", os: "linux")
    case "aarch64", "arm64": return Platform(architecture: "arm64", os: "linux", variant: "v8")
    case "armv7l": return Platform(architecture: "arm", os: "linux", variant: "v7")
    case "ppc64le": return Platform(architecture: "ppc64le", os: "linux")
    case "s390x": return Platform(architecture: "s390x", os: "linux")
    default: return Platform(architecture: machine, os: "linux")
    }
  }

  /// The manifest of `index` for `platform`: same OS and architecture, and
  /// the same variant when both name one (arm64's variant is optional).
  public static func select(from index: ImageIndex, for platform: Platform) -> Descriptor? {
    let candidates = index.manifests.filter {
      $0.platform?.os == platform.os && $0.platform?.architecture == platform.architecture
        && MediaType.manifests.contains($0.mediaType)
    }
    if let exact = candidates.first(where: { $0.platform?.variant == platform.variant }) { return exact }
    return candidates.first { $0.platform?.variant == nil || platform.variant == nil }
  }
}
