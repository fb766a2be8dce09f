import CCRIOSys
import Dispatch
import Foundation
import Glibc

/// Starts programs that must receive extra descriptors (conmon's pipes),
/// which Foundation's Process cannot pass.
public enum ProcessSpawner {
  public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
  }

  /// Starts `argv[0]` with `argv`, giving `fds[i]` to it as descriptor 3 + i,
  /// in `directory` (nil: crio's working directory).
  public static func spawn(_ argv: [String], environment: [String], fds: [Int32], directory: String? = nil) throws -> pid_t {
    var cArgs = argv.map { strdup($0) } + [nil]
    var cEnv = environment.map { strdup($0) } + [nil]
    defer {
      cArgs.forEach { free($0) }
      cEnv.forEach { free($0) }
    }
    let pid = fds.withUnsafeBufferPointer { buffer in
      crio_spawn_with_fds_in(directory, argv[0], &cArgs, &cEnv, buffer.baseAddress, Int32(fds.count))
    }
    guard pid > 0 else { throw SpawnError(description: "cannot start \(argv[0]): \(String(cString: strerror(-pid)))") }
    return pid
  }

  /// Waits for `pid` off the cooperative pool; returns its wait status.
  public static func wait(_ pid: pid_t) async -> Int32 {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        continuation.resume(returning: status)
      }
    }
  }

  /// Reads one newline-terminated message from `fd` (or up to its end) off
  /// the cooperative pool. The writer may keep the pipe open afterwards, as
  /// conmon does with its sync pipe.
  public static func readLine(_ fd: Int32) async -> Data {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        var data = Data()
        var byte: UInt8 = 0
        while data.count < 64 * 1024 {
          let n = read(fd, &byte, 1)
          if n < 0 && errno == EINTR { continue }
          if n <= 0 || byte == UInt8(ascii: "\n") { break }
          data.append(byte)
        }
        continuation.resume(returning: data)
      }
    }
  }
}

/// Mounts overlayfs.
public enum OverlayMount {
  public static func mount(lowerDirectories: [String], upper: String, work: String, target: String) throws {
    let rc = crio_mount_overlay(lowerDirectories.joined(separator: ":"), upper, work, target)
    guard rc == 0 else {
      throw ProcessSpawner.SpawnError(description: "cannot mount the container rootfs at \(target): \(String(cString: strerror(-rc)))")
    }
  }

  /// A read-only overlay of `lowerDirectories` (top first) with no upper
  /// directory. overlayfs needs two lower directories then: callers add an
  /// empty one at the bottom.
  public static func mountReadOnly(lowerDirectories: [String], target: String) throws {
    let rc = crio_mount_overlay_readonly(lowerDirectories.joined(separator: ":"), target)
    guard rc == 0 else {
      throw ProcessSpawner.SpawnError(description: "cannot mount a read-only overlay at \(target): \(String(cString: strerror(-rc)))")
    }
  }
}

/// Blocking reads, run on Dispatch threads: a blocking call on one of the
/// (few, one per core) cooperative threads would stall every task.
public enum BlockingRead {
  /// Reads `handle` to its end (the writer closed its side).
  public static func toEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(returning: handle.readDataToEndOfFile())
      }
    }
  }
}
