import Foundation

/// One record of a CRI container log (what conmon writes):
/// `<RFC 3339 time> <stdout|stderr> <F|P> <content>\n`. A `P` record is a
/// partial line: its content continues in the next record of the stream.
public struct CRILogRecord: Sendable, Equatable {
  public enum Stream: String, Sendable {
    case stdout, stderr
  }

  public var timestamp: String
  public var stream: Stream
  public var partial: Bool
  public var content: [UInt8]

  public init(timestamp: String, stream: Stream, partial: Bool, content: [UInt8]) {
    self.timestamp = timestamp
    self.stream = stream
    self.partial = partial
    self.content = content
  }

  /// Parses one line (without its newline); nil when it is not a CRI record.
  public static func parse<Line: Collection<UInt8>>(_ line: Line) -> CRILogRecord? {
    let bytes = Array(line)
    let space = UInt8(ascii: " ")
    guard let first = bytes.firstIndex(of: space), first > 0 else { return nil }
    let afterTime = first + 1
    guard let second = bytes[afterTime...].firstIndex(of: space),
          let stream = Stream(rawValue: String(decoding: bytes[afterTime..<second], as: UTF8.self))
    else { return nil }
    let tagStart = second + 1
    let tagEnd = bytes[tagStart...].firstIndex(of: space) ?? bytes.count
    // The tag may carry more after ':' (reserved); the first part is F or P.
    let tag = String(decoding: bytes[tagStart..<tagEnd], as: UTF8.self).split(separator: ":").first.map(String.init) ?? ""
    guard tag == "F" || tag == "P" else { return nil }
    let content = tagEnd < bytes.count ? Array(bytes[(tagEnd + 1)...]) : []
    return CRILogRecord(
      timestamp: String(decoding: bytes[..<first], as: UTF8.self), stream: stream, partial: tag == "P",
      content: content)
  }

  /// What `crictl logs` prints for the record: its content (with the
  /// timestamp in front when asked), and a newline unless it is partial.
  public func rendered(timestamps: Bool) -> [UInt8] {
    var out: [UInt8] = timestamps ? Array("\(timestamp) ".utf8) : []
    out += content
    if !partial { out.append(UInt8(ascii: "\n")) }
    return out
  }
}

/// Splits log bytes into complete lines, keeping an unfinished last line
/// for the next chunk (a log being written while it is read).
public struct CRILogLineSplitter: Sendable {
  private var pending: [UInt8] = []

  public init() {}

  /// The complete lines in `pending + chunk`, without their newlines.
  public mutating func lines(_ chunk: some Sequence<UInt8>) -> [[UInt8]] {
    pending += chunk
    var lines: [[UInt8]] = []
    var start = 0
    while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
      lines.append(Array(pending[start..<newline]))
      start = newline + 1
    }
    pending.removeFirst(start)
    return lines
  }

  /// What is left without a newline (at the end of a file that will not grow).
  public mutating func rest() -> [UInt8]? {
    defer { pending = [] }
    return pending.isEmpty ? nil : pending
  }
}
