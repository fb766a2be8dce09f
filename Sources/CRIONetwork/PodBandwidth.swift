import Foundation

/// A pod's traffic shaping, from the annotations Kubernetes defines for it
/// (`kubernetes.io/ingress-bandwidth`, `kubernetes.io/egress-bandwidth`,
/// quantities such as `10M` or `1Gi`, in bits per second), for the CNI
/// `bandwidth` capability. As in Kubernetes, a limit must be between 1k and
/// 1P.
public struct PodBandwidth: Sendable, Codable, Equatable {
  public var ingressRate: UInt64?
  public var egressRate: UInt64?

  public static let ingressAnnotation = "kubernetes.io/ingress-bandwidth"
  public static let egressAnnotation = "kubernetes.io/egress-bandwidth"
  /// The burst given with a rate, in bits: as large as the bandwidth plugin
  /// accepts (it refuses 4 GB and more), as containerd passes it.
  public static let burst = UInt64(UInt32.max)

  public struct InvalidQuantity: Error, Equatable, CustomStringConvertible {
    public let description: String
  }

  public init(ingressRate: UInt64? = nil, egressRate: UInt64? = nil) {
    self.ingressRate = ingressRate
    self.egressRate = egressRate
  }

  /// The limits the annotations ask for, nil when they ask for none.
  public init?(annotations: [String: String]) throws {
    let ingress = try annotations[Self.ingressAnnotation].map { try Self.rate($0, annotation: Self.ingressAnnotation) }
    let egress = try annotations[Self.egressAnnotation].map { try Self.rate($0, annotation: Self.egressAnnotation) }
    guard ingress != nil || egress != nil else { return nil }
    self.init(ingressRate: ingress, egressRate: egress)
  }

  static func rate(_ text: String, annotation: String) throws -> UInt64 {
    guard let value = quantity(text) else {
      throw InvalidQuantity(description: "\(annotation): \"\(text)\" is not a quantity")
    }
    guard value >= 1_000, value <= 1_000_000_000_000_000 else {
      throw InvalidQuantity(description: "\(annotation): \(text) is outside 1k..1P bits per second")
    }
    return UInt64(value)
  }

  /// A Kubernetes quantity (`123`, `1.5M`, `10Mi`, `2G`, `100k`, `1e6`), rounded up to an integer.
  static func quantity(_ text: String) -> Double? {
    let suffixes: [(String, Double)] = [
      ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
      ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
      ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18), ("m", 1e-3),
    ]
    var number = Substring(text.trimmingCharacters(in: .whitespaces))
    var multiplier = 1.0
    for (suffix, factor) in suffixes where number.hasSuffix(suffix) {
      number = number.dropLast(suffix.count)
      multiplier = factor
      break
    }
    guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-" }),
      let value = Double(number), value.isFinite, value >= 0
    else { return nil }
    return (value * multiplier).rounded(.up)
  }
}
