/// N, min, median, p90 and max of a set of samples.
///
/// - median: the middle sample, or the mean of the two middle ones for an even N;
/// - p90: nearest rank, the ⌈0.9·N⌉-th smallest sample (a sample that was
///   really measured, never an interpolation; for N < 10 it is the maximum).
public struct Summary: Sendable, Equatable, Codable {
  public var n: Int
  public var min: Double
  public var median: Double
  public var p90: Double
  public var max: Double

  public init(n: Int, min: Double, median: Double, p90: Double, max: Double) {
    self.n = n
    self.min = min
    self.median = median
    self.p90 = p90
    self.max = max
  }

  /// The summary of `samples`, or nil when there are none.
  public init?(_ samples: [Double]) {
    guard !samples.isEmpty else { return nil }
    let sorted = samples.sorted()
    let n = sorted.count
    let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    self.init(
      n: n, min: sorted[0], median: median, p90: Self.percentile(sorted, 90), max: sorted[n - 1])
  }

  /// Nearest-rank percentile of sorted, non-empty samples.
  public static func percentile(_ sorted: [Double], _ p: Int) -> Double {
    precondition(!sorted.isEmpty && (1...100).contains(p))
    // ⌈p·N/100⌉ in integers, so 90 % of 10 is exactly rank 9.
    let rank = (p * sorted.count + 99) / 100
    return sorted[rank - 1]
  }
}

/// How one measurement compares with the same one on another runtime.
public enum Ratio {
  /// `ours / theirs` of two medians; nil when either is missing or theirs is not positive.
  public static func of(_ ours: Double?, _ theirs: Double?) -> Double? {
    guard let ours, let theirs, theirs > 0, ours >= 0 else { return nil }
    return ours / theirs
  }

  /// `0.52x`, `1.00x`, `12.3x`; `-` when there is nothing to compare.
  public static func format(_ ratio: Double?) -> String {
    guard let ratio, ratio.isFinite else { return "-" }
    return ratio < 10 ? fixed(ratio, 2) + "x" : fixed(ratio, 1) + "x"
  }
}

/// A value with a number of decimals that suits its size: 0.42, 3.14, 41.5, 1234.
public func formatValue(_ value: Double) -> String {
  let magnitude = abs(value)
  if magnitude < 10 { return fixed(value, 2) }
  if magnitude < 1000 { return fixed(value, 1) }
  return fixed(value, 0)
}

/// `value` rounded half away from zero to `decimals` places, without Foundation.
func fixed(_ value: Double, _ decimals: Int) -> String {
  guard value.isFinite else { return "\(value)" }
  var scale: UInt64 = 1
  for _ in 0..<decimals { scale *= 10 }
  let scaled = UInt64((abs(value) * Double(scale)).rounded(.toNearestOrAwayFromZero))
  let whole = scaled / scale
  let fraction = scaled % scale
  let sign = value < 0 && scaled > 0 ? "-" : ""
  guard decimals > 0 else { return "\(sign)\(whole)" }
  var digits = String(fraction)
  while digits.count < decimals { digits = "0" + digits }
  return "\(sign)\(whole).\(digits)"
}
