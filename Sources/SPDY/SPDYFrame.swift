import NIOCore

/// One SPDY/3 frame in memory (SPDY/3 draft sections 2.2, 2.6 and 3.1 of SPDY/3.1).
/// Header blocks are carried decompressed; the frame codec owns the zlib contexts.
enum SPDYFrame: Sendable, Equatable {
  case synStream(SPDYSynStream)
  case synReply(streamID: UInt32, headers: SPDYHeaders, fin: Bool)
  case rstStream(streamID: UInt32, status: UInt32)
  case settings(clearPersisted: Bool, values: [SPDYSetting])
  case ping(id: UInt32)
  case goAway(lastGoodStreamID: UInt32, status: UInt32)
  case headers(streamID: UInt32, headers: SPDYHeaders, fin: Bool)
  case windowUpdate(streamID: UInt32, delta: UInt32)
  case data(streamID: UInt32, data: ByteBuffer, fin: Bool)
}

struct SPDYSynStream: Sendable, Equatable {
  var streamID: UInt32
  var associatedStreamID: UInt32 = 0
  var priority: UInt8 = 0  // 3 bits, 0 is highest
  var slot: UInt8 = 0
  var fin: Bool = false
  var unidirectional: Bool = false
  var headers: SPDYHeaders
}

struct SPDYSetting: Sendable, Equatable {
  var flags: UInt8 = 0
  var id: UInt32  // 24 bits
  var value: UInt32

  static let initialWindowSizeID: UInt32 = 7
}

/// Wire constants.
enum SPDYWire {
  static let version: UInt16 = 3
  static let controlBit: UInt32 = 0x8000_0000
  static let streamIDMask: UInt32 = 0x7fff_ffff
  static let maxPayload = (1 << 24) - 1
  static let flagFin: UInt8 = 0x01
  static let flagUnidirectional: UInt8 = 0x02
  static let flagClearSettings: UInt8 = 0x01

  enum ControlType: UInt16 {
    case synStream = 1, synReply, rstStream, settings, noop, ping, goAway, headers, windowUpdate
  }

  /// GOAWAY status codes.
  static let goAwayOK: UInt32 = 0
  static let goAwayProtocolError: UInt32 = 1
}

/// RST_STREAM status codes (SPDY/3 section 2.6.3).
public enum SPDYResetStatus: UInt32, Sendable {
  case protocolError = 1, invalidStream, refusedStream, unsupportedVersion, cancel, internalError,
    flowControlError, streamInUse, streamAlreadyClosed, invalidCredentials, frameTooLarge
}
