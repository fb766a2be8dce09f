import CRIOTOML
import TOMLKit

/// A parsed TOML file reduced to what crio.conf can hold: tables, and values
/// of the kinds `ConfigValue` knows. Anything else keeps only its type name,
/// for error messages.
enum ConfigNode: Equatable {
  case table([(key: String, node: ConfigNode)])
  case value(ConfigValue)
  case unsupported(typeName: String)

  static func == (lhs: ConfigNode, rhs: ConfigNode) -> Bool {
    switch (lhs, rhs) {
    case (.table(let a), .table(let b)):
      a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.node == $1.node }
    case (.value(let a), .value(let b)): a == b
    case (.unsupported(let a), .unsupported(let b)): a == b
    default: false
    }
  }

  var typeName: String {
    switch self {
    case .table: "table"
    case .value(let v): v.kind.rawValue
    case .unsupported(let name): name
    }
  }

  /// Parses TOML text; `path` only names the file in errors.
  static func parse(_ text: String, path: String) throws -> ConfigNode {
    if let problem = TOMLCrashGuard.check(text) {
      throw ConfigError.syntax(path: path, message: "\(problem)")
    }
    let table: TOMLTable
    do {
      table = try TOMLTable(string: text)
    } catch let error as TOMLParseError {
      throw ConfigError.syntax(
        path: path,
        message: "\(error.description) at line \(error.source.begin.line), column \(error.source.begin.column)")
    } catch {
      throw ConfigError.syntax(path: path, message: "\(error)")
    }
    return convert(table)
  }

  private static func convert(_ table: TOMLTable) -> ConfigNode {
    var entries: [(key: String, node: ConfigNode)] = []
    for (key, value) in table {
      entries.append((key, convert(value)))
    }
    return .table(entries)
  }

  private static func convert(_ value: any TOMLValueConvertible) -> ConfigNode {
    switch value.type {
    case .table:
      return value.table.map(convert) ?? .unsupported(typeName: "table")
    case .string:
      return .value(.string(value.string ?? ""))
    case .int:
      return value.int.map { .value(.integer($0)) } ?? .unsupported(typeName: "integer")
    case .bool:
      return .value(.boolean(value.bool ?? false))
    case .array:
      guard let array = value.array else { return .unsupported(typeName: "array") }
      var strings: [String] = []
      for element in array {
        guard element.type == .string, let s = element.string else {
          return .unsupported(typeName: "array of \(element.type)")
        }
        strings.append(s)
      }
      return .value(.strings(strings))
    default:
      return .unsupported(typeName: "\(value.type)")
    }
  }
}
