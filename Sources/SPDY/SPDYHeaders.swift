/// An ordered list of SPDY header (name, value) pairs. Names are stored lowercased, as SPDY/3
/// requires on the wire. A name may repeat; on the wire repeated names are joined into one entry
/// whose values are separated by NUL, exactly like Go's spdy framer does.
public struct SPDYHeaders: Sendable, Equatable, Sequence {
  public typealias Element = (name: String, value: String)

  private var pairs: [Element]

  public init(_ pairs: [(String, String)] = []) {
    self.pairs = pairs.map { (name: $0.0.lowercased(), value: $0.1) }
  }

  /// The first value for `name` (case-insensitive).
  public subscript(first name: String) -> String? {
    let key = name.lowercased()
    return self.pairs.first { $0.name == key }?.value
  }

  /// All values for `name` (case-insensitive), in order.
  public func values(_ name: String) -> [String] {
    let key = name.lowercased()
    return self.pairs.filter { $0.name == key }.map(\.value)
  }

  public mutating func add(name: String, value: String) {
    self.pairs.append((name: name.lowercased(), value: value))
  }

  public var count: Int { self.pairs.count }
  public var isEmpty: Bool { self.pairs.isEmpty }

  public func makeIterator() -> IndexingIterator<[Element]> {
    self.pairs.makeIterator()
  }

  public static func == (lhs: SPDYHeaders, rhs: SPDYHeaders) -> Bool {
    lhs.pairs.count == rhs.pairs.count
      && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.name == $1.name && $0.value == $1.value }
  }
}

extension SPDYHeaders: CustomStringConvertible {
  public var description: String {
    "[" + self.pairs.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
  }
}

extension SPDYHeaders: ExpressibleByDictionaryLiteral {
  public init(dictionaryLiteral elements: (String, String)...) {
    self.init(elements)
  }
}
