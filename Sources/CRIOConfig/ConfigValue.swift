/// A value of one configuration option, independent of where it came from
/// (a TOML file, a drop-in or a command-line flag).
public enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
  case string(String)
  case integer(Int)
  case boolean(Bool)
  case strings([String])

  public var kind: Kind {
    switch self {
    case .string: .string
    case .integer: .integer
    case .boolean: .boolean
    case .strings: .strings
    }
  }

  public enum Kind: String, Sendable {
    case string = "string"
    case integer = "integer"
    case boolean = "boolean"
    case strings = "array of strings"
  }

  public var description: String {
    switch self {
    case .string(let s): s
    case .integer(let i): String(i)
    case .boolean(let b): String(b)
    case .strings(let a): a.joined(separator: ",")
    }
  }
}
