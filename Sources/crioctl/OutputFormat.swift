import ArgumentParser
import Foundation
import SwiftProtobuf

/// How a verb prints its result: crictl's `-o` values.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  case table, json, yaml
}

/// Renders JSON-compatible values (from protobuf's JSON mapping) as pretty
/// JSON or as YAML.
enum Rendering {
  static func object(from message: some SwiftProtobuf.Message) throws -> Any {
    var options = JSONEncodingOptions()
    options.alwaysPrintEnumsAsInts = false
    let data = try message.jsonUTF8Data(options: options)
    return try JSONSerialization.jsonObject(with: data)
  }

  static func json(_ value: Any) throws -> String {
    let data = try JSONSerialization.data(
      withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
  }

  static func yaml(_ value: Any, indent: String = "") -> String {
    switch value {
    case let dict as [String: Any]:
      if dict.isEmpty { return "{}" }
      return dict.keys.sorted().map { key -> String in
        let child = dict[key]!
        if isScalar(child) || isEmptyContainer(child) {
          return "\(indent)\(yamlKey(key)): \(yaml(child))"
        }
        return "\(indent)\(yamlKey(key)):\n" + yaml(child, indent: indent + "  ")
      }.joined(separator: "\n")
    case let array as [Any]:
      if array.isEmpty { return "[]" }
      return array.map { element -> String in
        if isScalar(element) || isEmptyContainer(element) { return "\(indent)- \(yaml(element))" }
        let nested = yaml(element, indent: indent + "  ")
        return "\(indent)- " + nested.dropFirst(indent.count + 2)
      }.joined(separator: "\n")
    case let string as String:
      return yamlString(string)
    case let number as NSNumber:
      if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
      return number.stringValue
    case is NSNull:
      return "null"
    default:
      return yamlString("\(value)")
    }
  }

  private static func isScalar(_ value: Any) -> Bool { !(value is [String: Any]) && !(value is [Any]) }

  private static func isEmptyContainer(_ value: Any) -> Bool {
    ((value as? [String: Any])?.isEmpty ?? false) || ((value as? [Any])?.isEmpty ?? false)
  }

  private static func yamlKey(_ key: String) -> String {
    key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." } && !key.isEmpty
      ? key : yamlString(key)
  }

  /// Strings are always double-quoted JSON-style, which YAML reads back exactly.
  private static func yamlString(_ s: String) -> String {
    (try? json(s)) ?? "\"\""
  }
}
