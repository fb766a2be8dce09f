import Dispatch
import Foundation
import Glibc
import Synchronization

/// fsync of several files at once. On a journalling file system (ext4, xfs)
/// concurrent fsyncs share journal commits, so syncing N small files in
/// parallel costs about one commit where N in a row cost N: on a disk busy
/// with other writers a commit takes milliseconds.
enum ParallelSync {
  /// fsyncs every descriptor (the first on the calling thread, each other on
  /// a thread of its own) and returns each one's result: 0 or the errno.
  static func fsync(_ fds: [Int32]) -> [Int32] {
    guard fds.count > 1 else { return fds.map(sync) }
    let results = Results(count: fds.count)
    let group = DispatchGroup()
    for index in fds.indices.dropFirst() {
      let fd = fds[index]
      group.enter()
      let thread = Thread {
        results.set(index, sync(fd))
        group.leave()
      }
      thread.start()
    }
    results.set(0, sync(fds[0]))
    group.wait()
    return results.values
  }

  private static func sync(_ fd: Int32) -> Int32 { Glibc.fsync(fd) == 0 ? 0 : errno }

  private final class Results: Sendable {
    private let storage: Mutex<[Int32]>
    init(count: Int) { storage = Mutex(Array(repeating: 0, count: count)) }
    func set(_ index: Int, _ value: Int32) { storage.withLock { $0[index] = value } }
    var values: [Int32] { storage.withLock { $0 } }
  }
}
