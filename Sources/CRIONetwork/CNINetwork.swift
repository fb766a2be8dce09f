import Foundation

/// A CNI network configuration (a `.conflist`, or a single-plugin `.conf`
/// wrapped as a list), kept as the JSON the plugins receive.
public struct CNINetwork: Sendable {
  /// Whether plugins of `version` know CHECK (added in CNI 0.4.0).
  public static func supportsCheck(_ version: String) -> Bool {
    let parts = version.split(separator: ".").compactMap { Int($0) }
    guard let major = parts.first else { return false }
    return major > 0 || (parts.count > 1 && parts[1] >= 4)
  }

  public let name: String
  public let cniVersion: String
  public let file: String
  /// Each plugin's configuration, in order, as JSON data.
  public let plugins: [Data]
  /// The list's `disableCheck`: CHECK must not be run.
  public let disableCheck: Bool

  public enum LoadError: Error, CustomStringConvertible {
    case invalid(file: String, reason: String)
    public var description: String {
      switch self {
      case .invalid(let file, let reason): "invalid CNI configuration \(file): \(reason)"
      }
    }
  }

  public init(file: String) throws {
    guard let data = FileManager.default.contents(atPath: file),
          let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    else { throw LoadError.invalid(file: file, reason: "not a JSON object") }
    guard let name = object["name"] as? String, !name.isEmpty else {
      throw LoadError.invalid(file: file, reason: "no name")
    }
    let version = object["cniVersion"] as? String ?? "0.4.0"
    var plugins: [[String: Any]]
    if let list = object["plugins"] as? [[String: Any]] {
      plugins = list
    } else {
      plugins = [object]
    }
    guard !plugins.isEmpty, plugins.allSatisfy({ ($0["type"] as? String)?.isEmpty == false }) else {
      throw LoadError.invalid(file: file, reason: "every plugin needs a type")
    }
    // Each plugin gets the list's name and version (CNI spec, "Network configuration lists").
    self.plugins = try plugins.map { plugin in
      var plugin = plugin
      plugin["name"] = name
      plugin["cniVersion"] = version
      return try JSONSerialization.data(withJSONObject: plugin, options: [.sortedKeys])
    }
    self.name = name
    self.cniVersion = version
    self.file = file
    disableCheck = object["disableCheck"] as? Bool ?? false
  }
}
