import Foundation

/// The mount points of this process's mount namespace.
public enum MountTable {
  /// Mount points at or below `directory`. /proc files have no size, so the
  /// file is read to its end (a one-shot read would stop after a page).
  public static func mountPoints(under directory: String) -> [String] {
    guard let handle = FileHandle(forReadingAtPath: "/proc/self/mountinfo") else { return [] }
    defer { try? handle.close() }
    let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    return text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard fields.count > 4 else { return nil }
      let point = String(fields[4])
      return point == directory || point.hasPrefix(directory + "/") ? point : nil
    }
  }
}
