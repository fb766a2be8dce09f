/// How long each step of an operation took, for debug logs (where the
/// time of a CRI call goes).
public struct PhaseTimes: Sendable {
  private var last = ContinuousClock.now
  private var phases: [(String, Duration)] = []

  public init() {}

  /// Ends the current step, named `name`.
  public mutating func mark(_ name: String) {
    let now = ContinuousClock.now
    phases.append((name, now - last))
    last = now
  }

  /// `name=1.23ms name=0.40ms ...`
  public var summary: String {
    phases.map { name, duration in
      let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
      return "\(name)=\((ms * 100).rounded() / 100)ms"
    }.joined(separator: " ")
  }
}
