import NIOCore

/// The uncompressed SPDY/3 name/value header block (section 2.6.10):
/// `count:u32, { nameLength:u32, name, valueLength:u32, value }*`.
/// Repeated names are one entry whose values are joined with NUL, as in Go's framer.
enum SPDYHeaderBlock {
  /// Appends the raw block for `headers` to `buffer`, merging repeated names (first-seen order).
  static func serialize(_ headers: SPDYHeaders, into buffer: inout ByteBuffer) {
    var order: [String] = []
    var values: [String: [String]] = [:]
    for (name, value) in headers {
      if values[name] == nil { order.append(name) }
      values[name, default: []].append(value)
    }
    buffer.writeInteger(UInt32(order.count))
    for name in order {
      let joined = values[name]!.joined(separator: "\u{0}")
      buffer.writeInteger(UInt32(name.utf8.count))
      buffer.writeString(name)
      buffer.writeInteger(UInt32(joined.utf8.count))
      buffer.writeString(joined)
    }
  }

  /// Parses a whole raw block. Names are lowercased; NUL-joined values become separate pairs.
  static func parse(_ buffer: inout ByteBuffer, maxHeaders: Int) throws -> SPDYHeaders {
    guard let count = buffer.readInteger(as: UInt32.self) else {
      throw SPDYError.protocolError("truncated header block")
    }
    guard count <= maxHeaders else {
      throw SPDYError.protocolError("header block with \(count) entries (limit \(maxHeaders))")
    }
    var headers = SPDYHeaders()
    for _ in 0..<count {
      guard let name = readString(&buffer), let value = readString(&buffer) else {
        throw SPDYError.protocolError("truncated header block")
      }
      for part in value.split(separator: "\u{0}", omittingEmptySubsequences: false) {
        headers.add(name: name, value: String(part))
      }
    }
    guard buffer.readableBytes == 0 else {
      throw SPDYError.protocolError("trailing bytes after header block")
    }
    return headers
  }

  private static func readString(_ buffer: inout ByteBuffer) -> String? {
    guard let length = buffer.readInteger(as: UInt32.self), length <= buffer.readableBytes else { return nil }
    return buffer.readString(length: Int(length))
  }
}
