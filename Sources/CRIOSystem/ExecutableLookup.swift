import Glibc

/// Finds programs the way a shell does.
public enum ExecutableLookup {
  /// The directories searched when `PATH` is unset, plus where Debian and CRI-O put helpers.
  public static let fallbackPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/libexec/crio"

  /// `name` if it contains a slash, else the first executable `dir/name` on `PATH`.
  public static func find(_ name: String, path: String? = nil) -> String? {
    if name.contains("/") { return isExecutable(name) ? name : nil }
    let searchPath = path ?? (getenv("PATH").map { String(cString: $0) } ?? fallbackPath)
    for dir in (searchPath + ":" + fallbackPath).split(separator: ":") where !dir.isEmpty {
      let candidate = dir.hasSuffix("/") ? "\(dir)\(name)" : "\(dir)/\(name)"
      if isExecutable(candidate) { return candidate }
    }
    return nil
  }

  /// True for a regular file this process may execute.
  public static func isExecutable(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
    return access(path, X_OK) == 0
  }
}
