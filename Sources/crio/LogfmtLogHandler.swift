import Foundation
import Logging

/// Writes log records to stderr as CRI-O does (logrus text format):
/// `time="2026-01-02T03:04:05.123456789Z" level=info msg="Starting crio" key=value`.
struct LogfmtLogHandler: LogHandler {
  var logLevel: Logger.Level
  var metadata: Logger.Metadata = [:]

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    var line = "time=\"\(Self.timestamp())\" level=\(Self.name(event.level)) msg=\(Self.quote("\(event.message)"))"
    let merged = metadata.merging(event.metadata ?? [:]) { $1 }
    for key in merged.keys.sorted() {
      line += " \(key)=\(Self.quote("\(merged[key]!)"))"
    }
    line += "\n"
    FileHandle.standardError.write(Data(line.utf8))
  }

  /// CRI-O's level names; `--log-level` accepts these.
  static func level(named name: String) -> Logger.Level {
    switch name {
    case "trace": .trace
    case "debug": .debug
    case "info": .info
    case "warn", "warning": .warning
    case "error": .error
    default: .critical  // fatal, panic
    }
  }

  private static func name(_ level: Logger.Level) -> String {
    switch level {
    case .trace: "trace"
    case .debug: "debug"
    case .info, .notice: "info"
    case .warning: "warning"
    case .error: "error"
    case .critical: "fatal"
    }
  }

  private static func quote(_ s: String) -> String {
    let plain = !s.isEmpty && s.unicodeScalars.allSatisfy {
      $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "=" && $0 != "\\"
    }
    if plain { return s }
    let escaped = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
      .replacingOccurrences(of: "\n", with: "\\n")
    return "\"\(escaped)\""
  }

  private static func timestamp() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var tmValue = tm()
    var seconds = ts.tv_sec
    gmtime_r(&seconds, &tmValue)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tmValue.tm_year + 1900, tmValue.tm_mon + 1,
      tmValue.tm_mday, tmValue.tm_hour, tmValue.tm_min, tmValue.tm_sec, ts.tv_nsec)
  }
}
