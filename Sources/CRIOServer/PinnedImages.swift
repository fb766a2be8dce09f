import OCI

/// Which images are pinned (CRI `Image.pinned`): the pause image and the
/// patterns of `[crio.image] pinned_images`, as CRI-O reads them: an exact
/// name (normalised, so `pause:3.10` matches `docker.io/library/pause:3.10`)
/// or a prefix ending in `*`.
public struct PinnedImages: Sendable {
  private let exact: Set<String>
  private let prefixes: [String]

  public init(_ patterns: [String]) {
    var exact: Set<String> = []
    var prefixes: [String] = []
    for pattern in patterns where !pattern.isEmpty {
      if pattern.hasSuffix("*") {
        prefixes.append(String(pattern.dropLast()))
      } else if let name = (try? ImageReference(parsing: pattern))?.taggedName {
        exact.insert(name)
      } else {
        exact.insert(pattern)
      }
    }
    self.exact = exact
    self.prefixes = prefixes
  }

  public func matches(_ repoTags: [String]) -> Bool {
    repoTags.contains { tag in exact.contains(tag) || prefixes.contains { tag.hasPrefix($0) } }
  }
}
