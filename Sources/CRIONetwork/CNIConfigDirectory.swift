import Foundation

/// The CNI network configurations found in a directory, chosen as CRI-O and
/// libcni do: files ending in `.conflist`, `.conf` or `.json`, in lexical order.
public struct CNIConfigDirectory: Sendable {
  public static let extensions = ["conflist", "conf", "json"]

  /// One usable network configuration.
  public struct Network: Sendable, Equatable {
    public var name: String
    public var cniVersion: String
    public var file: String
  }

  /// A file that was skipped, and why.
  public struct Rejected: Sendable, Equatable {
    public var file: String
    public var reason: String
  }

  public var networks: [Network] = []
  public var rejected: [Rejected] = []

  /// Reads every candidate file in `dir`; a missing directory has no networks.
  public static func scan(_ dir: String) -> CNIConfigDirectory {
    var result = CNIConfigDirectory()
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return result }
    for name in names.sorted() where extensions.contains((name as NSString).pathExtension) {
      let file = (dir as NSString).appendingPathComponent(name)
      do {
        result.networks.append(try parse(file: file))
      } catch {
        result.rejected.append(Rejected(file: file, reason: "\(error)"))
      }
    }
    return result
  }

  /// The network pods join: `preferred` by name when set, else the first valid file.
  public func defaultNetwork(preferred: String) -> Network? {
    preferred.isEmpty ? networks.first : networks.first { $0.name == preferred }
  }

  public enum ParseError: Error, CustomStringConvertible, Equatable {
    case unreadable(String)
    case notJSONObject
    case missing(String)
    case noPlugins

    public var description: String {
      switch self {
      case .unreadable(let reason): "cannot read: \(reason)"
      case .notJSONObject: "not a JSON object"
      case .missing(let key): "no \"\(key)\""
      case .noPlugins: "a .conflist needs a non-empty \"plugins\" list, each with a \"type\""
      }
    }
  }

  /// Parses one file as a network list (`.conflist`) or a single network (`.conf`, `.json`).
  public static func parse(file: String) throws -> Network {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: file))
    } catch {
      throw ParseError.unreadable(error.localizedDescription)
    }
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
      throw ParseError.notJSONObject
    }
    guard let name = object["name"] as? String, !name.isEmpty else { throw ParseError.missing("name") }
    let version = object["cniVersion"] as? String ?? ""
    if file.hasSuffix(".conflist") || object["plugins"] != nil {
      guard let plugins = object["plugins"] as? [[String: Any]], !plugins.isEmpty,
            plugins.allSatisfy({ ($0["type"] as? String)?.isEmpty == false })
      else { throw ParseError.noPlugins }
    } else {
      guard (object["type"] as? String)?.isEmpty == false else { throw ParseError.missing("type") }
    }
    return Network(name: name, cniVersion: version, file: file)
  }
}
