import NIOCore

/// Decodes SPDY/3 frames from bytes, holding the inbound header decompression context.
/// Frames split across reads wait for more data; malformed or oversize input throws
/// `SPDYError.protocolError` (after which the connection must be torn down).
struct SPDYFrameDecoder: ByteToMessageDecoder {
  typealias InboundOut = SPDYFrame

  /// Largest control frame payload accepted (the compressed header block plus fixed fields).
  var maxControlFrameSize: Int
  /// Largest decompressed header block accepted (a zlib bomb guard).
  var maxHeaderBlockSize: Int
  /// Largest number of header entries in one block (Go's framer default is 1000).
  var maxHeaderCount: Int
  private let decompressor = SPDYHeaderDecompressor()

  init(maxControlFrameSize: Int = 1 << 20, maxHeaderBlockSize: Int = 1 << 20, maxHeaderCount: Int = 1000) {
    self.maxControlFrameSize = maxControlFrameSize
    self.maxHeaderBlockSize = maxHeaderBlockSize
    self.maxHeaderCount = maxHeaderCount
  }

  mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    guard let frame = try self.nextFrame(from: &buffer) else { return .needMoreData }
    context.fireChannelRead(Self.wrapInboundOut(frame))
    return .continue
  }

  mutating func decodeLast(
    context: ChannelHandlerContext,
    buffer: inout ByteBuffer,
    seenEOF: Bool
  ) throws -> DecodingState {
    try self.decode(context: context, buffer: &buffer)
  }

  /// Decodes the next complete frame from `buffer`, or returns nil (consuming nothing of a partial
  /// frame) when more bytes are needed. Unknown control frame types are skipped.
  mutating func nextFrame(from buffer: inout ByteBuffer) throws -> SPDYFrame? {
    while true {
      guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
        let second = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self)
      else { return nil }
      let flags = UInt8(second >> 24)
      let length = Int(second & 0x00ff_ffff)

      if first & SPDYWire.controlBit == 0 {
        let streamID = first & SPDYWire.streamIDMask
        guard streamID != 0 else { throw SPDYError.protocolError("DATA frame on stream 0") }
        guard buffer.readableBytes >= 8 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 8)
        let data = buffer.readSlice(length: length)!
        return .data(streamID: streamID, data: data, fin: flags & SPDYWire.flagFin != 0)
      }

      let version = UInt16((first >> 16) & 0x7fff)
      let type = UInt16(first & 0xffff)
      guard version == SPDYWire.version else {
        throw SPDYError.protocolError("unsupported SPDY version \(version)")
      }
      guard length <= self.maxControlFrameSize else {
        throw SPDYError.protocolError("control frame of \(length) bytes (limit \(self.maxControlFrameSize))")
      }
      guard buffer.readableBytes >= 8 + length else { return nil }
      buffer.moveReaderIndex(forwardBy: 8)
      var payload = buffer.readSlice(length: length)!
      guard let known = SPDYWire.ControlType(rawValue: type), known != .noop else {
        continue  // SPDY/3 says: ignore unknown control frames (e.g. CREDENTIAL)
      }
      return try self.parseControl(known, flags: flags, payload: &payload)
    }
  }

  private func parseControl(
    _ type: SPDYWire.ControlType,
    flags: UInt8,
    payload: inout ByteBuffer
  ) throws -> SPDYFrame {
    let fin = flags & SPDYWire.flagFin != 0
    switch type {
    case .synStream:
      guard payload.readableBytes >= 10 else { throw SPDYError.protocolError("short SYN_STREAM") }
      let streamID = payload.readInteger(as: UInt32.self)! & SPDYWire.streamIDMask
      let associated = payload.readInteger(as: UInt32.self)! & SPDYWire.streamIDMask
      let priority = payload.readInteger(as: UInt8.self)! >> 5
      let slot = payload.readInteger(as: UInt8.self)!
      let headers = try self.headerBlock(payload)
      guard streamID != 0 else { throw SPDYError.protocolError("SYN_STREAM for stream 0") }
      return .synStream(
        SPDYSynStream(
          streamID: streamID, associatedStreamID: associated, priority: priority, slot: slot, fin: fin,
          unidirectional: flags & SPDYWire.flagUnidirectional != 0, headers: headers))

    case .synReply, .headers:
      guard payload.readableBytes >= 4 else { throw SPDYError.protocolError("short \(type) frame") }
      let streamID = payload.readInteger(as: UInt32.self)! & SPDYWire.streamIDMask
      let headers = try self.headerBlock(payload)
      guard streamID != 0 else { throw SPDYError.protocolError("\(type) for stream 0") }
      return type == .synReply
        ? .synReply(streamID: streamID, headers: headers, fin: fin)
        : .headers(streamID: streamID, headers: headers, fin: fin)

    case .rstStream:
      guard payload.readableBytes == 8 else { throw SPDYError.protocolError("RST_STREAM length") }
      let streamID = payload.readInteger(as: UInt32.self)! & SPDYWire.streamIDMask
      let status = payload.readInteger(as: UInt32.self)!
      guard streamID != 0, status != 0 else { throw SPDYError.protocolError("invalid RST_STREAM") }
      return .rstStream(streamID: streamID, status: status)

    case .settings:
      guard let count = payload.readInteger(as: UInt32.self), Int(count) <= payload.readableBytes / 8 else {
        throw SPDYError.protocolError("invalid SETTINGS")
      }
      var values: [SPDYSetting] = []
      for _ in 0..<count {
        let word = payload.readInteger(as: UInt32.self)!
        let value = payload.readInteger(as: UInt32.self)!
        values.append(SPDYSetting(flags: UInt8(word >> 24), id: word & 0x00ff_ffff, value: value))
      }
      return .settings(clearPersisted: flags & SPDYWire.flagClearSettings != 0, values: values)

    case .ping:
      guard payload.readableBytes == 4 else { throw SPDYError.protocolError("PING length") }
      return .ping(id: payload.readInteger(as: UInt32.self)!)

    case .goAway:
      guard payload.readableBytes == 8 else { throw SPDYError.protocolError("GOAWAY length") }
      let last = payload.readInteger(as: UInt32.self)! & SPDYWire.streamIDMask
      return .goAway(lastGoodStreamID: last, status: payload.readInteger(as: UInt32.self)!)

    case .windowUpdate:
      guard payload.readableBytes == 8 else { throw SPDYError.protocolError("WINDOW_UPDATE length") }
      let streamID = payload.readInteger(as: UInt32.self)! & SPDYWire.streamIDMask
      let delta = payload.readInteger(as: UInt32.self)! & 0x7fff_ffff
      return .windowUpdate(streamID: streamID, delta: delta)

    case .noop:
      preconditionFailure("NOOP is skipped by the caller")
    }
  }

  /// Decompresses (always, to keep the shared zlib context in step) and parses a header block.
  private func headerBlock(_ compressed: ByteBuffer) throws -> SPDYHeaders {
    var raw = try self.decompressor.decompress(compressed, maxSize: self.maxHeaderBlockSize)
    return try SPDYHeaderBlock.parse(&raw, maxHeaders: self.maxHeaderCount)
  }
}
