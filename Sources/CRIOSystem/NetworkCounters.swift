import CCRIOSys
import Glibc

/// The kernel's counters of one network interface, as /proc/net/dev shows them.
public struct NetworkCounters: Sendable, Equatable {
  public var name: String
  public var rxBytes: UInt64
  public var rxPackets: UInt64
  public var rxErrors: UInt64
  public var rxDropped: UInt64
  public var txBytes: UInt64
  public var txPackets: UInt64
  public var txErrors: UInt64
  public var txDropped: UInt64

  public init(
    name: String, rxBytes: UInt64 = 0, rxPackets: UInt64 = 0, rxErrors: UInt64 = 0, rxDropped: UInt64 = 0,
    txBytes: UInt64 = 0, txPackets: UInt64 = 0, txErrors: UInt64 = 0, txDropped: UInt64 = 0
  ) {
    self.name = name
    self.rxBytes = rxBytes
    self.rxPackets = rxPackets
    self.rxErrors = rxErrors
    self.rxDropped = rxDropped
    self.txBytes = txBytes
    self.txPackets = txPackets
    self.txErrors = txErrors
    self.txDropped = txDropped
  }

  public struct ReadError: Error, Equatable, CustomStringConvertible {
    public let description: String
  }

  /// The interfaces of the network namespace pinned at `netnsPath`, read
  /// from inside it on a thread of its own (never a Swift concurrency thread).
  public static func read(netns netnsPath: String) throws -> [NetworkCounters] {
    var buffer = [CChar](repeating: 0, count: 64 * 1024)
    let count = buffer.withUnsafeMutableBufferPointer {
      crio_netns_read_proc_net(netnsPath, "dev", $0.baseAddress, UInt($0.count))
    }
    guard count >= 0 else {
      throw ReadError(description: "cannot read net/dev in \(netnsPath): \(String(cString: strerror(Int32(-count))))")
    }
    let text = buffer.prefix(Int(count)).withUnsafeBufferPointer {
      $0.withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
    }
    return parse(text)
  }

  /// Parses /proc/net/dev: two header lines, then `name: ` and sixteen
  /// numbers, eight received (bytes packets errs drop fifo frame compressed
  /// multicast) and eight transmitted (bytes packets errs drop fifo colls
  /// carrier compressed).
  public static func parse(_ text: String) -> [NetworkCounters] {
    var result: [NetworkCounters] = []
    for line in text.split(separator: "\n") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let name = line[..<colon].split(separator: " ").joined()
      let numbers = line[line.index(after: colon)...].split(separator: " ").compactMap { UInt64($0) }
      guard !name.isEmpty, numbers.count >= 16 else { continue }
      result.append(
        NetworkCounters(
          name: name, rxBytes: numbers[0], rxPackets: numbers[1], rxErrors: numbers[2], rxDropped: numbers[3],
          txBytes: numbers[8], txPackets: numbers[9], txErrors: numbers[10], txDropped: numbers[11]))
    }
    return result
  }
}
