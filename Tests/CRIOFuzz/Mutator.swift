/// Byte-level mutations in the style of libFuzzer and AFL's "havoc" stage:
/// bit flips, interesting values, arithmetic, chunk deletion, duplication and
/// insertion, truncation, splicing with another seed, and tokens from a
/// per-target dictionary (JSON or TOML syntax, `/`, `:`, `@sha256:`, ...).
public struct Mutator: Sendable {
  /// Tokens worth inserting for this target.
  public var dictionary: [[UInt8]]
  /// Inputs never grow past this many bytes.
  public var maxLength: Int

  public init(dictionary: [[UInt8]] = [], maxLength: Int = 64 * 1024) {
    self.dictionary = dictionary
    self.maxLength = maxLength
  }

  static let interestingBytes: [UInt8] = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x2f, 0x3a, 0x40, 0x2e, 0x0a]
  static let interestingWords: [UInt32] = [
    0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x00ff_ffff, 0x7fff_ffff, 0x8000_0000,
    0xffff_fffe, 0xffff_ffff,
  ]

  /// `input` changed by one to eight stacked mutations; `corpus` supplies splice partners.
  public func mutate(_ input: [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) -> [UInt8] {
    var bytes = input
    let rounds = 1 + rng.below(8)
    for _ in 0..<rounds {
      mutateOnce(&bytes, corpus: corpus, rng: &rng)
    }
    if bytes.count > maxLength { bytes.removeLast(bytes.count - maxLength) }
    return bytes
  }

  private func mutateOnce(_ bytes: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) {
    switch rng.below(14) {
    case 0 where !bytes.isEmpty:  // flip one bit
      let i = rng.below(bytes.count)
      bytes[i] ^= 1 << UInt8(rng.below(8))
    case 1 where !bytes.isEmpty:  // an interesting byte
      bytes[rng.below(bytes.count)] = Self.interestingBytes[rng.below(Self.interestingBytes.count)]
    case 2 where !bytes.isEmpty:  // a random byte
      bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
    case 3 where !bytes.isEmpty:  // small arithmetic
      let i = rng.below(bytes.count)
      let delta = UInt8(1 + rng.below(16))
      bytes[i] = rng.oneIn(2) ? bytes[i] &+ delta : bytes[i] &- delta
    case 4 where bytes.count >= 4:  // an interesting 32-bit (or 16-bit) value, either endianness
      let word = Self.interestingWords[rng.below(Self.interestingWords.count)]
      let width = rng.oneIn(2) ? 4 : 2
      let i = rng.below(bytes.count - width + 1)
      let bigEndian = rng.oneIn(2)
      for k in 0..<width {
        let shift = bigEndian ? (width - 1 - k) * 8 : k * 8
        bytes[i + k] = UInt8(truncatingIfNeeded: word >> UInt32(shift))
      }
    case 5 where !bytes.isEmpty:  // delete a chunk
      let (start, length) = chunk(in: bytes.count, rng: &rng)
      bytes.removeSubrange(start..<(start + length))
    case 6 where !bytes.isEmpty:  // duplicate a chunk somewhere
      let (start, length) = chunk(in: bytes.count, rng: &rng)
      let piece = Array(bytes[start..<(start + length)])
      let repeats = rng.oneIn(8) ? 1 + rng.below(32) : 1
      let at = rng.below(bytes.count + 1)
      bytes.insert(contentsOf: Array([[UInt8]](repeating: piece, count: repeats).joined()), at: at)
    case 7:  // insert random bytes
      let count = 1 + rng.below(16)
      let fresh = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      bytes.insert(contentsOf: fresh, at: rng.below(bytes.count + 1))
    case 8 where !bytes.isEmpty:  // truncate
      bytes.removeLast(1 + rng.below(bytes.count))
    case 9 where !corpus.isEmpty:  // splice with another seed
      let other = corpus[rng.below(corpus.count)]
      let cut = rng.below(bytes.count + 1)
      let otherCut = rng.below(other.count + 1)
      bytes = Array(bytes[..<cut]) + Array(other[otherCut...])
    case 10 where !dictionary.isEmpty, 11 where !dictionary.isEmpty:  // insert a token
      let token = dictionary[rng.below(dictionary.count)]
      bytes.insert(contentsOf: token, at: rng.below(bytes.count + 1))
    case 12 where !dictionary.isEmpty && !bytes.isEmpty:  // overwrite with a token
      let token = dictionary[rng.below(dictionary.count)]
      let at = rng.below(bytes.count)
      let end = min(bytes.count, at + token.count)
      bytes.replaceSubrange(at..<end, with: token)
    case 13 where bytes.count >= 2:  // swap two bytes
      bytes.swapAt(rng.below(bytes.count), rng.below(bytes.count))
    default:  // the chosen mutation did not apply: flip a byte of whatever there is, or add one
      if bytes.isEmpty {
        bytes.append(UInt8(truncatingIfNeeded: rng.next()))
      } else {
        bytes[rng.below(bytes.count)] ^= 0xff
      }
    }
  }

  /// A chunk of a buffer of `count` (> 0) bytes: mostly short, sometimes long.
  private func chunk(in count: Int, rng: inout SplitMix64) -> (start: Int, length: Int) {
    let start = rng.below(count)
    let room = count - start
    let length = rng.oneIn(4) ? 1 + rng.below(room) : 1 + rng.below(min(room, 32))
    return (start, length)
  }
}

extension Mutator {
  /// Tokens that JSON parsers care about.
  public static let jsonTokens: [[UInt8]] = [
    "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "\\ud800", "null", "true", "false", "-0", "1e400", "-1e400",
    "99999999999999999999999", "-9223372036854775809", "0.0000000000000000000001", "{}", "[]", "\"\":", "\u{feff}",
  ].map { Array($0.utf8) }

  /// Tokens that TOML parsers care about.
  public static let tomlTokens: [[UInt8]] = [
    "[", "]", "[[", "]]", "=", "\"", "'", "\"\"\"", "'''", "\n", "#", ".", ",", "{", "}", "true", "false",
    "9223372036854775808", "-9223372036854775809", "0x7fffffffffffffff", "1e400", "inf", "nan", "1979-05-27T07:32:00Z",
    "\\u0000", "\\U0010ffff", "\\", "a.b.c", "[a.b]", "x = 1\n",
  ].map { Array($0.utf8) }
}
