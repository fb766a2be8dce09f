import Foundation

/// Durations written the way Go's `time.ParseDuration` reads them, as
/// CRI-O's configuration does: "300ms", "1.5h", "2h45m", "30s".
public enum GoDuration {
  public static func parse(_ text: String) -> Duration? {
    var rest = Substring(text.trimmingCharacters(in: .whitespaces))
    guard !rest.isEmpty else { return nil }
    if rest == "0" { return .zero }
    let units: [(String, Double)] = [
      ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
    ]
    var seconds = 0.0
    while !rest.isEmpty {
      let number = rest.prefix { $0.isNumber || $0 == "." }
      guard !number.isEmpty, let value = Double(number) else { return nil }
      rest = rest.dropFirst(number.count)
      // Longest unit first ("ms" before "m").
      guard let unit = units.sorted(by: { $0.0.count > $1.0.count }).first(where: { rest.hasPrefix($0.0) }) else {
        return nil
      }
      rest = rest.dropFirst(unit.0.count)
      seconds += value * unit.1
    }
    // Like Go, a duration past Int64 nanoseconds (about 292 years) is invalid, not a trap.
    let nanoseconds = (seconds * 1e9).rounded()
    guard nanoseconds.isFinite, nanoseconds < Double(Int64.max) else { return nil }
    return .nanoseconds(Int64(nanoseconds))
  }
}
