/// Finds the table headers that crash toml++ (3.4.0, inside TOMLKit) before
/// it sees them: a `[` or `[[` followed by anything but a key, such as `[=]`,
/// `[.a]`, `[#]` or `[` at the end of a line, trips an assertion in its
/// `parse_key` (an abort in a debug build, undefined behaviour in a release
/// build). Found by the registries-conf fuzz target.
///
/// A small lexer follows comments, strings and brackets, so that only what
/// toml++ would parse as a table header is looked at: a `[` at the start of a
/// statement, outside any string or array. On valid TOML it tracks the parser
/// exactly; on invalid TOML it may refuse a little early, which is harmless.
public enum TOMLTableHeaderGuard {
  /// Where a header toml++ cannot take starts, and why; nil when there is none.
  public struct Problem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
      self.line = line
      self.column = column
    }

    public var description: String { "a table header must start with a key (line \(line), column \(column))" }
  }

  public static func check(_ text: String) -> Problem? {
    let bytes = Array(text.utf8)
    var i = 0
    var line = 1
    var lineStart = 0
    var depth = 0  // open arrays and inline tables inside a value
    var atStatementStart = true

    func skipLine() {
      while i < bytes.count && bytes[i] != 0x0a { i += 1 }
    }
    func skipString(quote: UInt8) {
      let multiline = i + 2 < bytes.count && bytes[i + 1] == quote && bytes[i + 2] == quote
      i += multiline ? 3 : 1
      while i < bytes.count {
        let c = bytes[i]
        if c == 0x5c && quote == 0x22 {  // a backslash escape in a basic string
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
        if depth == 0 { atStatementStart = true }
        i += 1
      case 0x20, 0x09, 0x0d:
        i += 1
      case UInt8(ascii: "#"):
        skipLine()
      case 0x22, 0x27:
        atStatementStart = false
        skipString(quote: c)
      case UInt8(ascii: "[") where atStatementStart && depth == 0:
        if let column = headerProblem(bytes, at: i) { return Problem(line: line, column: column - lineStart + 1) }
        atStatementStart = false
        skipHeader(bytes, &i)
      case UInt8(ascii: "["), UInt8(ascii: "{"):
        atStatementStart = false
        depth += 1
        i += 1
      case UInt8(ascii: "]"), UInt8(ascii: "}"):
        depth = max(0, depth - 1)
        i += 1
      default:
        atStatementStart = false
        i += 1
      }
    }
    return nil
  }

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
