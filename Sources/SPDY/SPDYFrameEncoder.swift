import NIOCore

/// Encodes SPDY/3 frames to bytes, holding the outbound header compression context (one per
/// connection direction, persisting across frames). Frames must be encoded in wire order.
final class SPDYFrameEncoder: MessageToByteEncoder {
  typealias OutboundIn = SPDYFrame

  private let compressor = SPDYHeaderCompressor()
  private var scratch = ByteBuffer()

  init() {}

  func encode(data frame: SPDYFrame, out: inout ByteBuffer) throws {
    switch frame {
    case .data(let streamID, let data, let fin):
      try Self.check(streamID: streamID, allowZero: false)
      guard data.readableBytes <= SPDYWire.maxPayload else { throw SPDYError.protocolError("DATA frame too large") }
      out.reserveCapacity(minimumWritableBytes: 8 + data.readableBytes)
      out.writeInteger(streamID)
      out.writeInteger(UInt32(fin ? SPDYWire.flagFin : 0) << 24 | UInt32(data.readableBytes))
      out.writeImmutableBuffer(data)

    case .synStream(let syn):
      try Self.check(streamID: syn.streamID, allowZero: false)
      var flags: UInt8 = syn.fin ? SPDYWire.flagFin : 0
      if syn.unidirectional { flags |= SPDYWire.flagUnidirectional }
      try self.control(.synStream, flags: flags, into: &out) { payload in
        payload.writeInteger(syn.streamID)
        payload.writeInteger(syn.associatedStreamID & SPDYWire.streamIDMask)
        payload.writeInteger((syn.priority & 0x07) << 5)
        payload.writeInteger(syn.slot)
        try self.writeHeaderBlock(syn.headers, into: &payload)
      }

    case .synReply(let streamID, let headers, let fin), .headers(let streamID, let headers, let fin):
      try Self.check(streamID: streamID, allowZero: false)
      let type: SPDYWire.ControlType = if case .synReply = frame { .synReply } else { .headers }
      try self.control(type, flags: fin ? SPDYWire.flagFin : 0, into: &out) { payload in
        payload.writeInteger(streamID)
        try self.writeHeaderBlock(headers, into: &payload)
      }

    case .rstStream(let streamID, let status):
      try Self.check(streamID: streamID, allowZero: false)
      try self.control(.rstStream, flags: 0, into: &out) { payload in
        payload.writeInteger(streamID)
        payload.writeInteger(status)
      }

    case .settings(let clear, let values):
      try self.control(.settings, flags: clear ? SPDYWire.flagClearSettings : 0, into: &out) { payload in
        payload.writeInteger(UInt32(values.count))
        for setting in values {
          payload.writeInteger(UInt32(setting.flags) << 24 | (setting.id & 0x00ff_ffff))
          payload.writeInteger(setting.value)
        }
      }

    case .ping(let id):
      try self.control(.ping, flags: 0, into: &out) { $0.writeInteger(id) }

    case .goAway(let lastGood, let status):
      try Self.check(streamID: lastGood, allowZero: true)
      try self.control(.goAway, flags: 0, into: &out) { payload in
        payload.writeInteger(lastGood)
        payload.writeInteger(status)
      }

    case .windowUpdate(let streamID, let delta):
      try Self.check(streamID: streamID, allowZero: true)
      guard delta >= 1, delta <= SPDYWire.streamIDMask else { throw SPDYError.protocolError("invalid window delta") }
      try self.control(.windowUpdate, flags: 0, into: &out) { payload in
        payload.writeInteger(streamID)
        payload.writeInteger(delta)
      }
    }
  }

  /// Writes a control frame header whose length is patched after `body` wrote the payload.
  private func control(
    _ type: SPDYWire.ControlType,
    flags: UInt8,
    into out: inout ByteBuffer,
    body: (inout ByteBuffer) throws -> Void
  ) throws {
    let start = out.writerIndex
    out.writeInteger(UInt16(0x8000) | SPDYWire.version)
    out.writeInteger(type.rawValue)
    out.writeInteger(UInt32(0))  // flags and length, patched below
    try body(&out)
    let length = out.writerIndex - start - 8
    guard length <= SPDYWire.maxPayload else {
      out.moveWriterIndex(to: start)
      throw SPDYError.protocolError("control frame too large")
    }
    out.setInteger(UInt32(flags) << 24 | UInt32(length), at: start + 4)
  }

  private func writeHeaderBlock(_ headers: SPDYHeaders, into out: inout ByteBuffer) throws {
    self.scratch.clear()
    SPDYHeaderBlock.serialize(headers, into: &self.scratch)
    try self.compressor.compress(self.scratch, into: &out)
  }

  private static func check(streamID: UInt32, allowZero: Bool) throws {
    guard streamID <= SPDYWire.streamIDMask, allowZero || streamID != 0 else {
      throw SPDYError.protocolError("invalid stream id \(streamID)")
    }
  }
}
