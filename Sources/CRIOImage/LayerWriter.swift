import CRIOSystem
import Glibc

/// Writes tar entries into a layer directory, relative to directory
/// descriptors: each parent is reached from the layer root one component at a
/// time with O_NOFOLLOW, so no entry can reach outside the directory through
/// a symlink, and each entry is created with *at calls on its last component.
/// Used by one unpack call on one thread.
final class LayerWriter {
  private let rootFD: Int32
  private let rootPath: String
  /// The last parent directory opened, to save walking from the root for
  /// every entry (tars list a directory's entries together). Its fd is never
  /// the root's.
  private var cached: (components: [[UInt8]], fd: Int32)?
  /// Directory times, set at the end: writing into a directory changes them.
  private var directoryTimes: [[[UInt8]]: (accessed: TarTime?, modified: TarTime)] = [:]

  static let overlayOpaque = "trusted.overlay.opaque"

  init(directory: String) throws(LayerError) {
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else {
      throw .unusableTarget(path: directory, reason: LayerError.describe(errno))
    }
    // Hard links may only point at what this layer wrote, so start empty.
    let probe = dup(fd)
    guard probe >= 0, let dir = fdopendir(probe) else {
      let err = errno
      if probe >= 0 { close(probe) }
      close(fd)
      throw .unusableTarget(path: directory, reason: LayerError.describe(err))
    }
    var empty = true
    while let entry = readdir(dir) {
      let name = Self.name(of: entry)
      if name != [UInt8(ascii: ".")] && name != [UInt8(ascii: "."), UInt8(ascii: ".")] {
        empty = false
        break
      }
    }
    closedir(dir)
    guard empty else {
      close(fd)
      throw .unusableTarget(path: directory, reason: "it is not empty")
    }
    rootPath = directory
    rootFD = fd
  }

  deinit {
    if let cached { close(cached.fd) }
    close(rootFD)
  }

  // MARK: - Entries

  func write(_ entry: TarEntry, reader: TarReader) throws(LayerError) {
    let display = entry.displayName
    let path = try Self.components(of: entry.name, entry: display)

    guard let leaf = path.last else {
      // "./": the layer root itself.
      guard entry.kind == .directory else {
        throw .malformedArchive(entry: display, reason: "a non-directory entry names the layer root")
      }
      try applyOwnerAndMode(fd: rootFD, entry: entry, display: display)
      try applyXattrs(fd: rootFD, entry: entry, display: display)
      directoryTimes[[]] = (entry.accessed, entry.modified)
      return
    }
    let parentPath = Array(path.dropLast())

    if leaf.starts(with: Self.whiteoutPrefix) {
      try writeWhiteout(entry, parentPath: parentPath, leaf: leaf, display: display)
      return
    }

    switch entry.kind {
    case .other:
      return  // unknown type: skipped (the reader skips its data)
    case .regular:
      let parentFD = try openParent(parentPath, entry: display)
      try clearSlot(parentFD: parentFD, path: path, keepDirectory: false, display: display)
      try writeRegular(entry, parentFD: parentFD, leaf: leaf, reader: reader, display: display)
    case .directory:
      let parentFD = try openParent(parentPath, entry: display)
      let exists = try clearSlot(parentFD: parentFD, path: path, keepDirectory: true, display: display)
      try writeDirectory(entry, parentFD: parentFD, leaf: leaf, exists: exists, display: display)
      directoryTimes[path] = (entry.accessed, entry.modified)
    case .symlink:
      let parentFD = try openParent(parentPath, entry: display)
      try clearSlot(parentFD: parentFD, path: path, keepDirectory: false, display: display)
      try writeSymlink(entry, parentFD: parentFD, leaf: leaf, display: display)
    case .characterDevice, .blockDevice, .fifo:
      let parentFD = try openParent(parentPath, entry: display)
      try clearSlot(parentFD: parentFD, path: path, keepDirectory: false, display: display)
      try writeNode(entry, parentFD: parentFD, leaf: leaf, display: display)
    case .hardLink:
      try writeHardLink(entry, path: path, display: display)
    }
  }

  /// Sets the directories' times, now that nothing more is written into them.
  func finish() throws(LayerError) {
    let paths = directoryTimes.keys.sorted { $0.lexicographicallyPrecedes($1) { $0.lexicographicallyPrecedes($1) } }
    for path in paths {
      guard let times = directoryTimes[path] else { continue }
      var ts = Self.timespecs(times.accessed, times.modified)
      guard let leaf = path.last else {
        if futimens(rootFD, &ts) != 0 {
          throw .fileSystem(entry: ".", operation: "set times", errno: errno)
        }
        continue
      }
      // A directory replaced or removed by a later entry keeps no times.
      guard let parentFD = try? openParent(Array(path.dropLast()), entry: "", create: false) else { continue }
      var st = stat()
      let cLeaf = FileSystemCalls.cString(leaf)
      guard fstatat(parentFD, cLeaf, &st, AT_SYMLINK_NOFOLLOW) == 0, Self.isDirectory(st) else { continue }
      if utimensat(parentFD, cLeaf, &ts, AT_SYMLINK_NOFOLLOW) != 0 {
        throw .fileSystem(entry: Self.display(path), operation: "set times", errno: errno)
      }
    }
  }

  private func writeRegular(
    _ entry: TarEntry, parentFD: Int32, leaf: [UInt8], reader: TarReader, display: String
  ) throws(LayerError) {
    let fd = openat(parentFD, FileSystemCalls.cString(leaf), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw .fileSystem(entry: display, operation: "create", errno: errno) }
    defer { close(fd) }
    while true {
      let chunk = try reader.readData(max: LayerDecompressor.chunkSize)
      if chunk.isEmpty { break }
      var done = 0
      while done < chunk.count {
        let n = Glibc.write(fd, chunk.baseAddress! + done, chunk.count - done)
        if n < 0 {
          if errno == EINTR { continue }
          throw .fileSystem(entry: display, operation: "write", errno: errno)
        }
        done += n
      }
    }
    try applyOwnerAndMode(fd: fd, entry: entry, display: display)
    try applyXattrs(fd: fd, entry: entry, display: display)
    var ts = Self.timespecs(entry.accessed, entry.modified)
    if futimens(fd, &ts) != 0 {
      throw .fileSystem(entry: display, operation: "set times", errno: errno)
    }
  }

  private func writeDirectory(
    _ entry: TarEntry, parentFD: Int32, leaf: [UInt8], exists: Bool, display: String
  ) throws(LayerError) {
    let cLeaf = FileSystemCalls.cString(leaf)
    if !exists && mkdirat(parentFD, cLeaf, 0o700) != 0 {
      throw .fileSystem(entry: display, operation: "mkdir", errno: errno)
    }
    let fd = openat(parentFD, cLeaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { throw .fileSystem(entry: display, operation: "open", errno: errno) }
    defer { close(fd) }
    try applyOwnerAndMode(fd: fd, entry: entry, display: display)
    try applyXattrs(fd: fd, entry: entry, display: display)
  }

  private func writeSymlink(_ entry: TarEntry, parentFD: Int32, leaf: [UInt8], display: String) throws(LayerError) {
    let cLeaf = FileSystemCalls.cString(leaf)
    // The target is stored verbatim and never followed.
    if symlinkat(FileSystemCalls.cString(entry.linkName), parentFD, cLeaf) != 0 {
      throw .fileSystem(entry: display, operation: "symlink", errno: errno)
    }
    if fchownat(parentFD, cLeaf, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) != 0 {
      throw .fileSystem(entry: display, operation: "lchown", errno: errno)
    }
    // Never chmod a symlink (its mode means nothing and chmod would follow it).
    try applyXattrs(parentFD: parentFD, leaf: leaf, entry: entry, display: display)
    var ts = Self.timespecs(entry.accessed, entry.modified)
    if utimensat(parentFD, cLeaf, &ts, AT_SYMLINK_NOFOLLOW) != 0 {
      throw .fileSystem(entry: display, operation: "set times", errno: errno)
    }
  }

  private func writeNode(_ entry: TarEntry, parentFD: Int32, leaf: [UInt8], display: String) throws(LayerError) {
    let type: UInt32
    switch entry.kind {
    case .characterDevice: type = UInt32(S_IFCHR)
    case .blockDevice: type = UInt32(S_IFBLK)
    default: type = UInt32(S_IFIFO)
    }
    let rc = FileSystemCalls.makeNode(
      directoryFD: parentFD, entry: leaf, mode: type | 0o600, major: entry.deviceMajor, minor: entry.deviceMinor)
    if rc != 0 { throw .fileSystem(entry: display, operation: "mknod", errno: rc) }
    let cLeaf = FileSystemCalls.cString(leaf)
    if fchownat(parentFD, cLeaf, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) != 0 {
      throw .fileSystem(entry: display, operation: "lchown", errno: errno)
    }
    // Just created by mknod, so not a symlink; chmod after chown, which
    // clears setuid and setgid.
    if fchmodat(parentFD, cLeaf, mode_t(entry.mode), 0) != 0 {
      throw .fileSystem(entry: display, operation: "chmod", errno: errno)
    }
    try applyXattrs(parentFD: parentFD, leaf: leaf, entry: entry, display: display)
    var ts = Self.timespecs(entry.accessed, entry.modified)
    if utimensat(parentFD, cLeaf, &ts, AT_SYMLINK_NOFOLLOW) != 0 {
      throw .fileSystem(entry: display, operation: "set times", errno: errno)
    }
  }

  private func writeHardLink(_ entry: TarEntry, path: [[UInt8]], display: String) throws(LayerError) {
    let targetName = String(decoding: entry.linkName, as: UTF8.self)
    func invalid(_ reason: String) -> LayerError {
      .invalidHardLink(entry: display, target: targetName, reason: reason)
    }
    let target: [[UInt8]]
    do {
      target = try Self.components(of: entry.linkName, entry: display)
    } catch {
      switch error {
      case .absolutePath: throw invalid("is absolute")
      case .parentTraversal: throw invalid("has a \"..\" component")
      default: throw error
      }
    }
    guard let targetLeaf = target.last else { throw invalid("is the layer root") }
    if target == path { return }  // a link to itself: nothing to do

    // The target's directory, reached the same safe way, without creating anything.
    let targetParentFD: Int32
    do {
      targetParentFD = try walk(from: rootFD, base: [], Array(target.dropLast()), entry: display, create: false)
    } catch {
      switch error {
      case .pathThroughSymlink(_, let symlink): throw invalid("goes through the symlink \(LayerError.quote(symlink))")
      case .parentNotADirectory, .fileSystem(_, _, ENOENT): throw invalid("does not exist in this layer")
      default: throw error
      }
    }
    defer { if targetParentFD != rootFD { close(targetParentFD) } }
    let cTargetLeaf = FileSystemCalls.cString(targetLeaf)
    var st = stat()
    guard fstatat(targetParentFD, cTargetLeaf, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
      if errno == ENOENT { throw invalid("does not exist in this layer") }
      throw .fileSystem(entry: display, operation: "stat link target", errno: errno)
    }
    if Self.isDirectory(st) { throw invalid("is a directory") }

    let leaf = path[path.count - 1]
    let parentFD = try openParent(Array(path.dropLast()), entry: display)
    try clearSlot(parentFD: parentFD, path: path, keepDirectory: false, display: display)
    // Flags 0: a symlink target is linked itself, not followed.
    if linkat(targetParentFD, cTargetLeaf, parentFD, FileSystemCalls.cString(leaf), 0) != 0 {
      throw .fileSystem(entry: display, operation: "link", errno: errno)
    }
  }

  static let whiteoutPrefix = Array(".wh.".utf8)
  static let opaqueWhiteout = Array(".wh..wh..opq".utf8)

  /// `dir/.wh.NAME` becomes a 0/0 character device `dir/NAME`;
  /// `dir/.wh..wh..opq` marks `dir` opaque. Neither is written as a file.
  private func writeWhiteout(
    _ entry: TarEntry, parentPath: [[UInt8]], leaf: [UInt8], display: String
  ) throws(LayerError) {
    if leaf == Self.opaqueWhiteout {
      let parentFD = try openParent(parentPath, entry: display)
      let rc = FileSystemCalls.setExtendedAttribute(fd: parentFD, name: Self.overlayOpaque, value: [UInt8(ascii: "y")])
      if rc != 0 { throw .fileSystem(entry: display, operation: "set \(Self.overlayOpaque)", errno: rc) }
      return
    }
    // Other ".wh..wh." names are AUFS bookkeeping: not part of the layer.
    if leaf.starts(with: Self.whiteoutPrefix + Self.whiteoutPrefix) { return }
    let name = Array(leaf.dropFirst(Self.whiteoutPrefix.count))
    guard !name.isEmpty, name != [UInt8(ascii: ".")], name != [UInt8(ascii: "."), UInt8(ascii: ".")] else {
      throw .invalidWhiteout(entry: display)
    }
    let parentFD = try openParent(parentPath, entry: display)
    try clearSlot(parentFD: parentFD, path: parentPath + [name], keepDirectory: false, display: display)
    let rc = FileSystemCalls.makeNode(directoryFD: parentFD, entry: name, mode: UInt32(S_IFCHR), major: 0, minor: 0)
    if rc != 0 { throw .fileSystem(entry: display, operation: "mknod whiteout", errno: rc) }
    if fchownat(parentFD, FileSystemCalls.cString(name), entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) != 0 {
      throw .fileSystem(entry: display, operation: "lchown", errno: errno)
    }
  }

  // MARK: - Metadata

  private func applyOwnerAndMode(fd: Int32, entry: TarEntry, display: String) throws(LayerError) {
    if fchown(fd, entry.uid, entry.gid) != 0 {
      throw .fileSystem(entry: display, operation: "chown", errno: errno)
    }
    // After chown, which clears setuid and setgid.
    if fchmod(fd, mode_t(entry.mode)) != 0 {
      throw .fileSystem(entry: display, operation: "chmod", errno: errno)
    }
  }

  /// Whether a layer's xattr is written. overlayfs keeps its own state in
  /// trusted.overlay.* (user.overlay.* when rootless): a layer must not forge
  /// it (redirects, metacopy), so those are dropped; opaque directories come
  /// from ".wh..wh..opq" entries only.
  static func keepsXattr(_ name: String) -> Bool {
    !name.hasPrefix("trusted.overlay.") && !name.hasPrefix("user.overlay.")
  }

  private func applyXattrs(fd: Int32, entry: TarEntry, display: String) throws(LayerError) {
    for (name, value) in entry.xattrs where Self.keepsXattr(name) {
      let rc = FileSystemCalls.setExtendedAttribute(fd: fd, name: name, value: value)
      try checkXattr(rc, name: name, display: display)
    }
  }

  private func applyXattrs(parentFD: Int32, leaf: [UInt8], entry: TarEntry, display: String) throws(LayerError) {
    for (name, value) in entry.xattrs where Self.keepsXattr(name) {
      let rc = FileSystemCalls.setExtendedAttribute(directoryFD: parentFD, entry: leaf, name: name, value: value)
      try checkXattr(rc, name: name, display: display)
    }
  }

  private func checkXattr(_ rc: Int32, name: String, display: String) throws(LayerError) {
    // A file system that cannot hold this kind of attribute: skipped, as
    // containerd and containers/storage do.
    if rc == 0 || rc == EOPNOTSUPP || rc == ENOTSUP { return }
    throw .fileSystem(entry: display, operation: "set xattr \(name)", errno: rc)
  }

  static func timespecs(_ accessed: TarTime?, _ modified: TarTime) -> [timespec] {
    let a = accessed ?? modified
    return [
      timespec(tv_sec: Int(a.seconds), tv_nsec: Int(a.nanoseconds)),
      timespec(tv_sec: Int(modified.seconds), tv_nsec: Int(modified.nanoseconds)),
    ]
  }

  // MARK: - Paths

  /// The components of an entry name, "" and "." dropped. Absolute names and
  /// ".." components are refused.
  static func components(of name: [UInt8], entry: String) throws(LayerError) -> [[UInt8]] {
    if name.first == UInt8(ascii: "/") { throw .absolutePath(entry: entry) }
    var result: [[UInt8]] = []
    for part in name.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
      if part.count == 1 && part.first == UInt8(ascii: ".") { continue }
      if part.count == 2 && part.allSatisfy({ $0 == UInt8(ascii: ".") }) { throw .parentTraversal(entry: entry) }
      result.append(Array(part))
    }
    return result
  }

  static func display(_ path: [[UInt8]]) -> String {
    String(decoding: Array(path.joined(separator: [UInt8(ascii: "/")])), as: UTF8.self)
  }

  /// The directory `path` (relative to the root), reached without following
  /// symlinks, missing directories created (0755) unless `create` is false.
  /// The fd belongs to the writer: valid until the next call, not to be closed.
  private func openParent(_ path: [[UInt8]], entry: String, create: Bool = true) throws(LayerError) -> Int32 {
    if path.isEmpty { return rootFD }
    var base: [[UInt8]] = []
    var startFD = rootFD
    if let cached, cached.components.count <= path.count, path.starts(with: cached.components) {
      if cached.components.count == path.count { return cached.fd }
      base = cached.components
      startFD = cached.fd
    }
    let fd = try walk(from: startFD, base: base, Array(path[base.count...]), entry: entry, create: create)
    if let cached { close(cached.fd) }
    cached = (path, fd)
    return fd
  }

  /// Opens `rest` below `startFD` (which is `base` below the root) one
  /// component at a time with O_NOFOLLOW. Returns a new fd, or `startFD` when
  /// `rest` is empty; never closes `startFD`.
  private func walk(
    from startFD: Int32, base: [[UInt8]], _ rest: [[UInt8]], entry: String, create: Bool
  ) throws(LayerError) -> Int32 {
    var current = startFD
    var sofar = base
    for component in rest {
      sofar.append(component)
      let next: Int32
      do {
        next = try openDirectory(in: current, component, path: sofar, entry: entry, create: create)
      } catch {
        if current != startFD { close(current) }
        throw error
      }
      if current != startFD { close(current) }
      current = next
    }
    return current
  }

  private func openDirectory(
    in dirFD: Int32, _ name: [UInt8], path: [[UInt8]], entry: String, create: Bool
  ) throws(LayerError) -> Int32 {
    let cName = FileSystemCalls.cString(name)
    let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
    var fd = openat(dirFD, cName, flags)
    if fd >= 0 { return fd }
    var err = errno
    if err == ENOENT && create {
      if mkdirat(dirFD, cName, 0o755) != 0 && errno != EEXIST {
        throw .fileSystem(entry: entry, operation: "mkdir \(Self.display(path))", errno: errno)
      }
      fd = openat(dirFD, cName, flags)
      if fd >= 0 { return fd }
      err = errno
    }
    if err == ELOOP || err == ENOTDIR {
      var st = stat()
      if fstatat(dirFD, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFLNK {
        throw .pathThroughSymlink(entry: entry, symlink: Self.display(path))
      }
      throw .parentNotADirectory(entry: entry, parent: Self.display(path))
    }
    throw .fileSystem(entry: entry, operation: "open \(Self.display(path))", errno: err)
  }

  /// Makes room for a new entry at `path`: removes whatever is there, except
  /// a directory when `keepDirectory` (a directory entry over a directory
  /// keeps its contents). Returns whether a directory was kept.
  @discardableResult
  private func clearSlot(parentFD: Int32, path: [[UInt8]], keepDirectory: Bool, display: String) throws(LayerError) -> Bool {
    let cLeaf = FileSystemCalls.cString(path[path.count - 1])
    var st = stat()
    guard fstatat(parentFD, cLeaf, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
      if errno == ENOENT { return false }
      throw .fileSystem(entry: display, operation: "stat", errno: errno)
    }
    let isDirectory = Self.isDirectory(st)
    if isDirectory && keepDirectory { return true }
    if isDirectory {
      // The cached parent may lie inside what goes.
      if let cached, cached.components.starts(with: path) {
        close(cached.fd)
        self.cached = nil
      }
      try removeTree(parentFD: parentFD, name: cLeaf, display: display)
    } else if unlinkat(parentFD, cLeaf, 0) != 0 {
      throw .fileSystem(entry: display, operation: "remove the existing file", errno: errno)
    }
    return false
  }

  /// Removes the directory `name` of `parentFD` and everything below it,
  /// without following symlinks and without recursion (a hostile layer may
  /// nest directories deeply).
  private func removeTree(parentFD: Int32, name: [CChar], display: String) throws(LayerError) {
    struct Frame {
      var dir: OpaquePointer
      var fd: Int32
      var name: [CChar]
      var passes: Int
    }
    func openFrame(_ parent: Int32, _ name: [CChar]) throws(LayerError) -> Frame {
      let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
      guard fd >= 0 else { throw .fileSystem(entry: display, operation: "open to remove", errno: errno) }
      guard let dir = fdopendir(fd) else {
        let err = errno
        close(fd)
        throw .fileSystem(entry: display, operation: "open to remove", errno: err)
      }
      return Frame(dir: dir, fd: fd, name: name, passes: 0)
    }
    var stack = [try openFrame(parentFD, name)]
    defer { for frame in stack { closedir(frame.dir) } }
    while let top = stack.last {
      if let entry = readdir(top.dir) {
        let child = Self.name(of: entry)
        if child == [UInt8(ascii: ".")] || child == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
        let cChild = FileSystemCalls.cString(child)
        var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
        if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
          var st = stat()
          isDirectory = fstatat(top.fd, cChild, &st, AT_SYMLINK_NOFOLLOW) == 0 && Self.isDirectory(st)
        }
        if isDirectory {
          stack.append(try openFrame(top.fd, cChild))
        } else if unlinkat(top.fd, cChild, 0) != 0 && errno != ENOENT {
          throw .fileSystem(entry: display, operation: "remove the existing tree", errno: errno)
        }
        continue
      }
      let parent = stack.count >= 2 ? stack[stack.count - 2].fd : parentFD
      if unlinkat(parent, top.name, AT_REMOVEDIR) == 0 {
        closedir(top.dir)
        stack.removeLast()
        continue
      }
      let err = errno
      // Entries removed while listing may hide others from readdir: look again.
      if err == ENOTEMPTY && top.passes < 8 {
        stack[stack.count - 1].passes += 1
        rewinddir(top.dir)
        continue
      }
      throw .fileSystem(entry: display, operation: "remove the existing tree", errno: err)
    }
  }

  static func isDirectory(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }

  static func name(of entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
    withUnsafeBytes(of: entry.pointee.d_name) { raw in
      Array(raw.prefix { $0 != 0 })
    }
  }
}
