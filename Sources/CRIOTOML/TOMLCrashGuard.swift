/// Finds what crashes toml++ (3.4.0, inside TOMLKit) before it sees it. Each
/// trips an assertion (an abort in a debug build, undefined behaviour in a
/// release build); both were found by fuzzing registries.conf and crio.conf:
///
/// - a table header `[` or `[[` followed by anything but a key, such as `[=]`,
///   `[.a]`, `[#]` or `[` at the end of a line (`parse_key`);
/// - a date-time whose `T` is not followed by a digit, such as
///   `1979-05-27T:` (`parse_time`). No valid value has a digit, then `T`
///   or `t`, then a non-digit;
/// - a `}` where an array expects a value, as in `a = [1,}` (`parse_value`);
/// - a Unicode line separator there, as in `a = [1,<U+2028>]`. Outside strings
///   and comments TOML is ASCII, so any other byte is refused;
/// - a NUL escape (`\u0000`, `\U00000000`) in a basic string: TOMLKit passes
///   keys as C strings, so a key with one is not found again and TOMLKit's
///   table iterator force-unwraps nil (found by fuzzing registries.conf).
///
/// A small lexer follows comments, strings and brackets, so that only what
/// toml++ would parse as a table header is looked at: a `[` at the start of a
/// statement, outside any string or array. On valid TOML it tracks the parser
/// exactly; on invalid TOML it may refuse a little early, which is harmless.
public enum TOMLCrashGuard {
  /// Where a header toml++ cannot take starts, and why; nil when there is none.
  public struct Problem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int, reason: Reason = .headerWithoutKey) {
      self.line = line
      self.column = column
      self.reason = reason
    }

    public var reason: Reason

    public enum Reason: Sendable, Equatable {
      case headerWithoutKey
      case timeWithoutDigits
      case braceInArray
      case nonASCII
      case nulEscape
    }

    public var description: String {
      switch reason {
      case .headerWithoutKey: "a table header must start with a key (line \(line), column \(column))"
      case .timeWithoutDigits: "a date-time needs digits after its T (line \(line), column \(column))"
      case .braceInArray: "a } inside an array (line \(line), column \(column))"
      case .nonASCII: "a non-ASCII character outside a string or comment (line \(line), column \(column))"
      case .nulEscape: "a NUL character escaped in a string (line \(line), column \(column))"
      }
    }
  }

  public static func check(_ text: String) -> Problem? {
    let bytes = Array(text.utf8)
    var i = 0
    var line = 1
    var lineStart = 0
    var open: [UInt8] = []  // the arrays and inline tables open inside a value
    var atStatementStart = true
    var expectKey = true  // a key comes next (statement start, inline table), not a value

    func skipLine() {
      while i < bytes.count && bytes[i] != 0x0a { i += 1 }
    }
    var nulEscape: Problem?
    func skipString(quote: UInt8) {
      let multiline = i + 2 < bytes.count && bytes[i + 1] == quote && bytes[i + 2] == quote
      i += multiline ? 3 : 1
      while i < bytes.count {
        let c = bytes[i]
        if c == 0x5c && quote == 0x22 {  // a backslash escape in a basic string
          if nulEscape == nil && isNulEscape(bytes, at: i) {
            nulEscape = Problem(line: line, column: i - lineStart + 1, reason: .nulEscape)
          }
          i += 2
          continue
        }
        if c == 0x0a {
          if !multiline { return }  // an unterminated string: toml++ fails here
          line += 1
          lineStart = i + 1
        }
        if c == quote {
          if !multiline {
            i += 1
            return
          }
          if i + 2 < bytes.count && bytes[i + 1] == quote && bytes[i + 2] == quote {
            i += 3
            // Up to two more quotes belong to the string's content.
            while i < bytes.count && bytes[i] == quote { i += 1 }
            return
          }
        }
        i += 1
      }
    }

    while i < bytes.count {
      let c = bytes[i]
      switch c {
      case 0x0a:
        line += 1
        lineStart = i + 1
        if open.isEmpty {
          atStatementStart = true
          expectKey = true
        }
        i += 1
      case 0x20, 0x09, 0x0d:
        i += 1
      case UInt8(ascii: "#"):
        skipLine()
      case 0x22, 0x27:
        atStatementStart = false
        skipString(quote: c)
        if let nulEscape { return nulEscape }
      case UInt8(ascii: "[") where atStatementStart && open.isEmpty:
        if let column = headerProblem(bytes, at: i) { return Problem(line: line, column: column - lineStart + 1) }
        atStatementStart = false
        let headerStart = i
        skipHeader(bytes, &i)
        if let at = (headerStart..<i).first(where: { bytes[$0] == 0x5c && isNulEscape(bytes, at: $0) }) {
          return Problem(line: line, column: at - lineStart + 1, reason: .nulEscape)
        }
      case UInt8(ascii: "["), UInt8(ascii: "{"):
        atStatementStart = false
        open.append(c)
        expectKey = c == UInt8(ascii: "{")
        i += 1
      case UInt8(ascii: "}") where open.last == UInt8(ascii: "["):
        return Problem(line: line, column: i - lineStart + 1, reason: .braceInArray)
      case 0x80...:
        return Problem(line: line, column: i - lineStart + 1, reason: .nonASCII)
      case UInt8(ascii: "]"), UInt8(ascii: "}"):
        _ = open.popLast()
        i += 1
      case UInt8(ascii: ","):
        expectKey = open.last == UInt8(ascii: "{")
        i += 1
      case UInt8(ascii: "="):
        atStatementStart = false
        expectKey = false
        i += 1
      case _ where c | 0x20 == UInt8(ascii: "t") && !expectKey && i > 0 && isDigit(bytes[i - 1])
        && (i + 1 == bytes.count || !isDigit(bytes[i + 1])):
        return Problem(line: line, column: i - lineStart + 1, reason: .timeWithoutDigits)
      default:
        atStatementStart = false
        i += 1
      }
    }
    return nil
  }

  /// `\u0000` or `\U00000000` at `i` (a backslash).
  static func isNulEscape(_ bytes: [UInt8], at i: Int) -> Bool {
    guard i + 1 < bytes.count else { return false }
    let width = bytes[i + 1] == UInt8(ascii: "u") ? 4 : bytes[i + 1] == UInt8(ascii: "U") ? 8 : 0
    guard width > 0, i + 2 + width <= bytes.count else { return false }
    return bytes[(i + 2)..<(i + 2 + width)].allSatisfy { $0 == UInt8(ascii: "0") }
  }

  static func isDigit(_ c: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) }

  /// The offset of the byte after `[` / `[[` and blanks that cannot start a key, or nil.
  static func headerProblem(_ bytes: [UInt8], at start: Int) -> Int? {
    var j = start + 1
    var sawBlank = false
    while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09) {
      j += 1
      sawBlank = true
    }
    if !sawBlank && j < bytes.count && bytes[j] == UInt8(ascii: "[") {
      j += 1
      while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09) { j += 1 }
    }
    guard j < bytes.count else { return nil }  // end of input: toml++ reports it
    let c = bytes[j]
    let startsKey = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
      || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
      || c == 0x22 || c == 0x27 || c == UInt8(ascii: "]")
    return startsKey ? nil : j
  }

  /// Moves past a header (its quoted keys included) to the end of its line.
  static func skipHeader(_ bytes: [UInt8], _ i: inout Int) {
    while i < bytes.count && bytes[i] != 0x0a {
      let c = bytes[i]
      i += 1
      if c == 0x22 || c == 0x27 {
        while i < bytes.count && bytes[i] != c && bytes[i] != 0x0a {
          i += (c == 0x22 && bytes[i] == 0x5c) ? 2 : 1
        }
        if i < bytes.count && bytes[i] == c { i += 1 }
      }
    }
  }
}
